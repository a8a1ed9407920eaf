"""Retrieval metrics as the HippoRAG papers compute them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def recall_at_k(ranked_ids: Sequence[str], relevant_ids: Iterable[str], k: int) -> float:
    """|top-k ∩ relevant| / |relevant|, over distinct ids in rank order; 0 when nothing is relevant."""
    relevant = set(relevant_ids)
    if not relevant:
        return 0.0
    top = list(dict.fromkeys(ranked_ids))[:k]
    return len(relevant.intersection(top)) / len(relevant)
