"""The weighted undirected adjacency of a graph view, changed by its deltas without re-assembling it.

It is a `base` CSR matrix, assembled from the view's edge arrays (with its scaled form
`symmetric_base`, what PageRank multiplies by), plus `delta`: the edges added (positive weight)
and removed (the same weight, negative) since, both ways. Nodes appended since the base was
assembled have no row in it; `size` counts them. The weighted degrees, PageRank's products
(ppr.py: the base rescaled to the degrees now, plus the scaled delta) and the neighbours of a node
read both parts, so a write costs its own edges, not the graph's. The base is assembled again
once the delta holds more than `MAX_DELTA_SHARE` of its entries (graph/delta.py), or once a view
has answered a few queries with a delta pending (graph/views.py).
"""

from __future__ import annotations

import dataclasses
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
    base_strength: np.ndarray  # (base size,) summed weight of each node's edges in the base
    symmetric_base: sp.csr_matrix  # D^-½·base·D^-½, D the base strengths: what PageRank multiplies by
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
        scale = inverse_sqrt(strength)
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        scaled = matrix.data * scale[rows] * scale[matrix.indices]  # entry by entry, no sparse products
        symmetric = sp.csr_matrix((scaled, matrix.indices, matrix.indptr), matrix.shape)
        empty = np.zeros(0, dtype=np.int64)
        return cls(matrix, strength, symmetric, empty, empty, np.zeros(0), matrix.shape[0], strength)

    def changed(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, size: int) -> Adjacency:
        """This adjacency with undirected edges added (positive weights) or removed (the weight
        they were added with, negated), over `size` nodes (at least as many as before)."""
        strength = np.zeros(size)
        strength[: self.size] = self.strength
        np.add.at(strength, np.concatenate([rows, cols]), np.concatenate([weights, weights]))
        strength[strength < _GONE] = 0.0  # every edge removed again: round-off is no edge
        return dataclasses.replace(
            self,
            delta_rows=np.concatenate([self.delta_rows, rows, cols]),
            delta_cols=np.concatenate([self.delta_cols, cols, rows]),
            delta_weights=np.concatenate([self.delta_weights, weights, weights]),
            size=size,
            strength=strength,
        )

    @functools.cached_property
    def removes(self) -> bool:
        """Whether the delta removes an edge."""
        return bool((self.delta_weights < 0).any())

    @property
    def delta_share(self) -> float:
        return len(self.delta_weights) / max(self.base.nnz, 1)

    @functools.cached_property
    def delta(self) -> sp.csr_matrix:
        """The delta as a (size, size) matrix (parallel entries summed)."""
        entries = (self.delta_weights, (self.delta_rows, self.delta_cols))
        return sp.coo_matrix(entries, shape=(self.size, self.size)).tocsr()

    @functools.cached_property
    def rescale(self) -> np.ndarray:
        """Per node, its scale D^-½ now over its scale in `symmetric_base` (1 where unchanged):
        D^-½·base·D^-½ is rescale·symmetric_base·rescale."""
        known = self.base.shape[0]
        ratio = np.ones(self.size)
        base_scale = inverse_sqrt(self.base_strength)
        ratio[:known] = np.divide(
            inverse_sqrt(self.strength[:known]), base_scale, out=ratio[:known], where=base_scale > 0
        )
        return ratio

    @functools.cached_property
    def symmetric_delta(self) -> sp.coo_matrix:
        """The delta's entries scaled by D^-½ on both sides (D the strengths now), as COO: its
        product costs its entries, where a CSR product would visit every row of the graph."""
        scale = inverse_sqrt(self.strength)
        weights = self.delta_weights * scale[self.delta_rows] * scale[self.delta_cols]
        matrix = sp.coo_matrix((weights, (self.delta_rows, self.delta_cols)), shape=(self.size, self.size))
        return matrix.tocsr().tocoo()  # parallel entries summed

    def entries(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every entry leaving `nodes`, the base's and then the delta's, as (position in `nodes` of
        the source, target, weight): read straight from the CSR arrays (scipy's row slicing costs
        far more on the small frontiers of a query). An edge removed since the base was assembled
        comes twice, its weights summing to 0."""
        positions = np.flatnonzero(nodes < self.base.shape[0])
        counts, targets, weights = _row_entries(self.base, nodes[positions])
        sources = np.repeat(positions, counts)
        if not len(self.delta_weights):
            return sources, targets, weights
        more_counts, more_targets, more_weights = _row_entries(self.delta, nodes)
        return (
            np.concatenate([sources, np.repeat(np.arange(len(nodes)), more_counts)]),
            np.concatenate([targets, more_targets]),
            np.concatenate([weights, more_weights]),
        )

    def neighbours(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every edge leaving `nodes` as (source, target) arrays; an edge removed since the base was
        assembled is not among them."""
        positions, targets, weights = self.entries(nodes)
        sources = nodes[positions]
        if not self.removes:  # only edges added: a pair found twice is still one edge
            return sources, targets
        pairs, first, inverse = np.unique(sources * self.size + targets, return_index=True, return_inverse=True)
        present = np.bincount(inverse, weights=weights) > _GONE
        return sources[first[present]], targets[first[present]]


def _row_entries(matrix: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many entries each of the rows `nodes` has, and their columns and values, row by row."""
    indptr = matrix.indptr
    starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = np.repeat(starts, counts) + offsets
    return counts, matrix.indices[entries], matrix.data[entries]


def inverse_sqrt(strength: np.ndarray) -> np.ndarray:
    """1/√strength, 0 for a node without edges."""
    root = np.sqrt(strength)
    return np.divide(1.0, root, out=np.zeros_like(root), where=strength > 0)
