"""Personalized PageRank on an undirected weighted graph, solved as a symmetric linear system.

The scores x satisfy x = d·T·x + (1 - d + d·(mass on dangling nodes))·r, with T = A·D⁻¹ the
column-normalised adjacency, d the damping and r the normalised seeds: follow an edge with
probability d, else jump to a seed, and a walker on a node without edges jumps to a seed
(as igraph's PRPACK does).

Because A is symmetric, z = (I - d·T)⁻¹·r equals D^½·y where (I - d·S)·y = D^-½·r and
S = D^-½·A·D^-½ is symmetric, so y is found by conjugate gradients (on a node without edges,
z is simply r). Its convergence rate
depends on the condition number (1 + d) / (1 - d) of that system: about 20 matrix-vector
products for 1e-8 at d = 0.7, where power iteration needs over 50. The dangling-node term
is a rank-one correction: x = (1 - d)·z / (1 - d·(mass of z on dangling nodes)).

While the adjacency has a delta pending (adjacency.py), S·v is R·S_base·R·v + S_delta·v: the
base's scaled matrix rescaled to the degrees now (R, 1 for a node whose degree did not change)
and the delta's entries scaled, so a write never rescales the whole matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import daxpy, ddot

from .adjacency import Adjacency, inverse_sqrt


class PageRank:
    """The symmetric system of one graph, built once and solved for any seeds."""

    def __init__(self, adjacency: Adjacency) -> None:
        strength = adjacency.strength
        self.dangling = strength == 0
        self._sqrt_strength = np.sqrt(strength)
        self._inverse_sqrt = inverse_sqrt(strength)
        base = adjacency.symmetric_base
        # the base's matrix over every node (those appended since have empty rows): shares its arrays
        rows = np.concatenate([base.indptr, np.full(adjacency.size - base.shape[0], base.indptr[-1])])
        self._base = sp.csr_matrix((base.data, base.indices, rows), shape=(adjacency.size, adjacency.size))
        pending = len(adjacency.delta_weights) > 0
        self._delta = adjacency.symmetric_delta if pending else None
        self._rescale = adjacency.rescale if pending else None

    def _symmetric_product(self, vector: np.ndarray) -> np.ndarray:
        """S·vector; while a delta is pending (adjacency.py), the base's part rescaled to the
        strengths now, plus the delta's."""
        if self._delta is None:
            return self._base @ vector
        product = self._base @ (self._rescale * vector)
        product *= self._rescale
        product += self._delta @ vector
        return product

    def scores(
        self, seeds: np.ndarray, damping: float, tolerance: float = 1e-8, max_iterations: int = 200
    ) -> np.ndarray:
        """The stationary distribution for restart weights `seeds` (any positive scale).

        `tolerance` bounds the conjugate-gradient residual relative to the right-hand side.
        """
        total = seeds.sum()
        if total <= 0:
            raise ValueError("personalized PageRank needs at least one positive seed weight")
        restart = seeds / total
        y = self._solve(self._inverse_sqrt * restart, damping, tolerance, max_iterations)
        z = self._sqrt_strength * y + np.where(self.dangling, restart, 0.0)
        x = (1.0 - damping) * z / (1.0 - damping * z[self.dangling].sum())
        return np.maximum(x, 0.0)  # round-off can leave -1e-17 where no mass arrives

    def _solve(self, b: np.ndarray, damping: float, tolerance: float, max_iterations: int) -> np.ndarray:
        """Conjugate gradients for (I - damping·S)·y = b."""
        # In-place BLAS vector updates: temporaries cost as much as the matrix product here.
        y = np.zeros_like(b)
        residual = b.copy()
        direction = residual.copy()
        rr = ddot(residual, residual)
        stop = tolerance**2 * rr
        for _ in range(max_iterations):
            if rr <= stop:
                break
            product = self._symmetric_product(direction)
            product *= -damping
            product += direction
            step = rr / ddot(direction, product)
            daxpy(direction, y, a=step)
            daxpy(product, residual, a=-step)
            rr_next = ddot(residual, residual)
            direction *= rr_next / rr
            direction += residual
            rr = rr_next
        return y
