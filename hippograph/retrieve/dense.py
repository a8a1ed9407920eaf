"""Dense retrieval: passages ranked by cosine similarity to the query (the baseline)."""

from __future__ import annotations

import numpy as np

from ..graph.view import GraphView
from ..types import Explanation
from .ranked import Ranked, similarities, top_indexes


class DenseRetriever:
    def __init__(self, view: GraphView) -> None:
        self._view = view

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[Ranked]:
        """The k passages closest to the query (among those `allowed`, a bool mask, if given)."""
        if self._view.live_passages == 0:
            return []
        alive = self._view.data.passage_alive
        allowed = alive if allowed is None else allowed & alive
        scores = similarities(self._view.data.passage_vectors, query_vector)
        explanation = Explanation(method="dense")
        return [Ranked(int(i), float(scores[i]), explanation) for i in top_indexes(scores, k, allowed)]
