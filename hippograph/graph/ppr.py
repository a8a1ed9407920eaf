"""Personalized PageRank by power iteration over a column-stochastic sparse matrix."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def transition_matrix(adjacency: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Column-normalise a symmetric weighted adjacency; also return the mask of dangling nodes."""
    strength = np.asarray(adjacency.sum(axis=0)).ravel()
    dangling = strength == 0
    inverse = np.divide(1.0, strength, out=np.zeros_like(strength), where=~dangling)
    return (adjacency @ sp.diags(inverse)).tocsr(), dangling


def personalized_pagerank(
    transition: sp.csr_matrix,
    dangling: np.ndarray,
    seeds: np.ndarray,
    damping: float,
    tolerance: float = 1e-8,
    max_iterations: int = 200,
) -> np.ndarray:
    """Stationary distribution of: follow an edge with probability `damping`, else jump to a seed.

    Mass on dangling nodes jumps back to the seeds (as igraph's PRPACK does).
    """
    total = seeds.sum()
    if total <= 0:
        raise ValueError("personalized_pagerank needs at least one positive seed weight")
    restart = seeds / total
    scores = restart.copy()
    for _ in range(max_iterations):
        lost = scores[dangling].sum()
        updated = damping * (transition @ scores) + (1.0 - damping + damping * lost) * restart
        if np.abs(updated - scores).sum() < tolerance:
            return updated
        scores = updated
    return scores
