"""What a retriever returns: passage indexes into the graph view, scores and explanations, and
the graph retriever's walk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Explanation


@dataclass(frozen=True)
class Ranked:
    passage: int  # index into GraphView.data.passage_ids
    score: float
    explanation: Explanation


@dataclass(frozen=True)
class Walk:
    """How the graph retriever reached its passages, node by node (node indexes of the graph
    view: entities first, then passages): what a drawing of the query's subgraph shows."""

    seed_nodes: np.ndarray  # the nodes with a restart weight, ascending
    seed_weights: np.ndarray  # their restart weights
    scores: np.ndarray  # the PageRank mass of every node
    paths: dict[int, list[int]]  # returned passage index -> the nodes of its path from a seed entity

    def seed(self, node: int) -> float:
        """The node's restart weight (0 where none)."""
        at = int(np.searchsorted(self.seed_nodes, node))
        return float(self.seed_weights[at]) if at < len(self.seed_nodes) and self.seed_nodes[at] == node else 0.0


def similarities(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Each row's dot product with the query, as float64. Summed row by row (numpy's einsum loop)
    rather than by BLAS, whose kernels sum a row differently depending on how many rows they are
    given: a view kept up to date (dead rows among the live ones) would score a passage a few
    1e-7 off a view read afresh, and tip near-ties the other way.

    >>> similarities(np.array([[1, 0], [0.5, 0.5]], dtype=np.float32), np.array([1, 0], dtype=np.float32)).tolist()
    [1.0, 0.5]
    """
    return np.einsum("ij,j->i", vectors, query).astype(np.float64)


def top_indexes(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Indexes of the k highest scores, ties broken by index: deterministic (the order of the
    view's slots, which is id order in a view read afresh and write order for what a kept view
    appended since). With
    `allowed` (a bool mask), only among the indexes it allows."""
    if allowed is not None:
        candidates = np.flatnonzero(allowed)
        return candidates[top_indexes(scores[candidates], k)]
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= kth)  # every tie at the cut is a candidate
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]
