"""One search of a namespace's graph view: the retriever a method names, run on the notes of a
time window, and its ranking shaped into hits (with the subgraph behind them, built on demand)."""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..graph.view import GraphView
from ..store.base import Store
from ..threads import single_blas_thread
from ..types import Hit, Hits
from .dense import DenseRetriever
from .graph import GraphRetriever
from .recognition import FactFilter
from .subgraph import query_subgraph, subgraph_nodes

__all__ = ["METHODS", "in_window", "search"]

METHODS = ("hippograph", "dense")  # "hippograph": GraphRetriever; "dense": DenseRetriever


def in_window(times: np.ndarray, since: str | None, until: str | None) -> np.ndarray | None:
    """A mask of the notes whose time (UTC ISO) is in [since, until]; None when there is no window.

    >>> in_window(np.array(["2024-01-01", "2024-06-01"]), "2024-03-01", None).tolist()
    [False, True]
    """
    if since is None and until is None:
        return None
    allowed = np.ones(len(times), dtype=bool)
    if since is not None:
        allowed &= times >= since
    if until is not None:
        allowed &= times <= until
    return allowed


def search(
    view: GraphView,
    store: Store,
    text: str,
    query_vector: np.ndarray,
    k: int,
    method: str,
    allowed: np.ndarray | None,
    config: Config,
    fact_filter: FactFilter | None = None,
) -> Hits:
    """The k best passages of `view` for the question (`allowed`: a mask of the passages that may
    be returned), read from `store`, with why each came."""
    with single_blas_thread():
        if method == "dense":
            ranked, walk = DenseRetriever(view).retrieve(text, query_vector, k, allowed), None
        else:
            ranked, walk = GraphRetriever(view, config, fact_filter).walk(text, query_vector, k, allowed)
    # The passages on the paths too, so that the hits can give their subgraph later.
    passages = store.passages(
        view.node_id(node) for node in subgraph_nodes(view, ranked, walk) if node >= view.entity_count
    )
    hits = []
    for r in ranked:
        passage = passages[view.data.passage_ids[r.passage]]
        hits.append(
            Hit(
                id=passage.id,
                document_id=passage.document_id,
                title=passage.title,
                text=passage.text,
                score=r.score,
                explanation=r.explanation,
                time=passage.time,
            )
        )
    return Hits(hits, subgraph=lambda: query_subgraph(view, ranked, walk, passages))
