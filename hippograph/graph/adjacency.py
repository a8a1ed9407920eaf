"""The weighted undirected adjacency of a graph view, changed by its deltas without re-assembling it.

It is a `base` CSR matrix, assembled from the view's edge arrays, plus `delta`: the edges added
(positive weight) and removed (the same weight, negative) since, both ways. Nodes appended since
the base was assembled have no row in it; `size` counts them. Products with the adjacency, the
weighted degree and the neighbours of a node read both parts, so a write costs its own edges, not
the graph's. Once the delta holds more than `MAX_DELTA_SHARE` of the base's entries, the view
assembles a new base (graph/delta.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["MAX_DELTA_SHARE", "Adjacency", "inverse_sqrt"]

MAX_DELTA_SHARE = 0.1
_GONE = 1e-9  # a summed weight this small is an edge added and removed again


@dataclass(frozen=True)
class Adjacency:
    base: sp.csr_matrix  # (base size, base size)
    delta_rows: np.ndarray
    delta_cols: np.ndarray
    delta_weights: np.ndarray  # negative for a removed edge
    size: int
    strength: np.ndarray  # (size,) summed weight of each node's edges

    @classmethod
    def assembled(cls, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, size: int) -> Adjacency:
        """The adjacency of undirected edges (rows[i], cols[i], weights[i]), parallel ones summed."""
        both = (np.concatenate([weights, weights]), (np.concatenate([rows, cols]), np.concatenate([cols, rows])))
        return cls.of_matrix(sp.coo_matrix(both, shape=(size, size)).tocsr())  # parallel edges summed

    @classmethod
    def of_matrix(cls, matrix: sp.csr_matrix) -> Adjacency:
        """The adjacency a symmetric matrix of edge weights holds."""
        strength = np.bincount(matrix.indices, weights=matrix.data, minlength=matrix.shape[0])
        empty = np.zeros(0, dtype=np.int64)
        return cls(matrix, empty, empty, np.zeros(0), matrix.shape[0], strength)

    def changed(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, size: int) -> Adjacency:
        """This adjacency with undirected edges added (positive weights) or removed (the weight
        they were added with, negated), over `size` nodes (at least as many as before)."""
        delta_rows = np.concatenate([self.delta_rows, rows, cols])
        delta_cols = np.concatenate([self.delta_cols, cols, rows])
        delta_weights = np.concatenate([self.delta_weights, weights, weights])
        strength = np.zeros(size)
        strength[: self.size] = self.strength
        np.add.at(strength, np.concatenate([rows, cols]), np.concatenate([weights, weights]))
        strength[strength < _GONE] = 0.0  # every edge removed again: round-off is no edge
        return Adjacency(self.base, delta_rows, delta_cols, delta_weights, size, strength)

    @property
    def delta_share(self) -> float:
        return len(self.delta_weights) / max(self.base.nnz, 1)

    @functools.cached_property
    def delta(self) -> sp.csr_matrix:
        """The delta as a (size, size) matrix (parallel entries summed)."""
        entries = (self.delta_weights, (self.delta_rows, self.delta_cols))
        return sp.coo_matrix(entries, shape=(self.size, self.size)).tocsr()

    @functools.cached_property
    def symmetric_base(self) -> sp.csr_matrix:
        """D^-½·base·D^-½ with D the nodes' strength, entry by entry on the base's own structure
        (what PageRank multiplies by while no delta is pending)."""
        base, scale = self.base, inverse_sqrt(self.strength)
        rows = np.repeat(np.arange(base.shape[0]), np.diff(base.indptr))
        return sp.csr_matrix((base.data * scale[rows] * scale[base.indices], base.indices, base.indptr), base.shape)

    def dot(self, vector: np.ndarray) -> np.ndarray:
        """adjacency @ vector."""
        result = np.zeros(self.size)
        known = self.base.shape[0]
        result[:known] = self.base @ vector[:known]
        if len(self.delta_weights):
            result += self.delta @ vector
        return result

    def neighbours(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every edge leaving `nodes` as (source, target) arrays, read straight from the CSR
        arrays (scipy's row slicing costs far more on the small frontiers of a query); an edge
        removed since the base was assembled is not among them."""
        sources, targets, weights = _edges_of(self.base, nodes[nodes < self.base.shape[0]])
        if not len(self.delta_weights):
            return sources, targets
        more = _edges_of(self.delta, nodes)
        sources, targets = np.concatenate([sources, more[0]]), np.concatenate([targets, more[1]])
        pairs, first, inverse = np.unique(sources * self.size + targets, return_index=True, return_inverse=True)
        present = np.bincount(inverse, weights=np.concatenate([weights, more[2]])) > _GONE
        return sources[first[present]], targets[first[present]]


def _edges_of(matrix: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indptr = matrix.indptr
    starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = np.repeat(starts, counts) + offsets
    return np.repeat(nodes, counts), matrix.indices[entries], matrix.data[entries]


def inverse_sqrt(strength: np.ndarray) -> np.ndarray:
    """1/√strength, 0 for a node without edges."""
    root = np.sqrt(strength)
    return np.divide(1.0, root, out=np.zeros_like(root), where=strength > 0)
