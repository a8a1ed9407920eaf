"""Personalized PageRank from sparse seeds by forward push: work that grows with the neighbourhood
the walk reaches, not with the graph.

It computes the same scores as `PageRank.scores` (ppr.py), x = (1 - d)·z / (1 - d·(mass of z on
dangling nodes)) with z = Σₖ (d·T)ᵏ·r, T = A·D⁻¹ and r the normalised seeds, by the push of
Andersen, Chung and Lang (2006): every node holds an estimate z̃ and a residual, at first the
seeds; pushing a node moves its residual into its estimate and d·residual·w/s to each neighbour
(w the edge's weight, s the node's summed weights). Here all the nodes over the threshold are
pushed at once, round by round, as array operations. It stops when every residual is at most
`epsilon`·s of its node.

Error bound: the remaining residuals ρ give z - z̃ = Σᵤ ρᵤ·G[:, u] with G = (I - d·T)⁻¹. On an
undirected graph sᵤ·G[v, u] = s_v·G[u, v] and every column of G sums to 1 / (1 - d), so for
every node v, 0 ≤ z_v - z̃_v ≤ epsilon·s_v / (1 - d). The estimates never exceed the exact values,
and the scaling to x is the same for both. The total work is at most 1 / ((1 - d)·epsilon) edge
visits, and on a graph whose seeds sit in a small neighbourhood far less.

The adjacency's delta (edges added or removed since its base was assembled, adjacency.py) is
pushed along with the base: a removed edge's negative weight cancels its base entry.

>>> import numpy as np
>>> from hippograph.graph.adjacency import Adjacency
>>> from hippograph.graph.ppr import PageRank
>>> line = Adjacency.assembled(np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3), 5)  # 0-1-2-3, and 4 alone
>>> seeds = np.array([1.0, 0, 0, 0, 1.0])
>>> pushed = local_scores(line, seeds, damping=0.5, epsilon=1e-10)
>>> bool(np.allclose(pushed, PageRank(line).scores(seeds, 0.5, 1e-12), atol=1e-9))
True
"""

from __future__ import annotations

import numpy as np

from .adjacency import Adjacency

__all__ = ["local_scores", "pushed"]


def local_scores(adjacency: Adjacency, seeds: np.ndarray, damping: float, epsilon: float) -> np.ndarray:
    """The PageRank scores of every node (0 where the walk never came) for restart weights `seeds`
    (any positive scale), each at most `epsilon`·(its summed edge weight)·(1 + a few percent)
    below the exact score: see the module's docstring."""
    nodes = np.flatnonzero(seeds)
    return pushed(adjacency, nodes, seeds[nodes], damping, epsilon)[0]


def pushed(
    adjacency: Adjacency, nodes: np.ndarray, weights: np.ndarray, damping: float, epsilon: float
) -> tuple[np.ndarray, np.ndarray]:
    """`local_scores` of the seeds `weights` at `nodes` (distinct), and the nodes the walk came
    to (ascending): nothing of the work is over every node of the graph."""
    total = weights.sum()
    if total <= 0:
        raise ValueError("personalized PageRank needs at least one positive seed weight")
    strength = adjacency.strength
    estimate = np.zeros(adjacency.size)  # pages of zeros the walk never touches cost nothing
    residual = np.zeros(adjacency.size)
    frontier = nodes[weights > 0]
    residual[frontier] = weights[weights > 0] / total
    pushed_nodes = []
    while len(frontier):
        pushed_nodes.append(frontier)
        mass = residual[frontier]
        residual[frontier] = 0.0
        estimate[frontier] += mass
        share = np.divide(damping * mass, strength[frontier], out=np.zeros_like(mass), where=strength[frontier] > 0)
        sources, targets, edge_weights = adjacency.entries(frontier)
        np.add.at(residual, targets, share[sources] * edge_weights)
        frontier = np.unique(targets[residual[targets] > epsilon * strength[targets]])
    reached = np.unique(np.concatenate(pushed_nodes))  # the only nodes with an estimate
    dangling = reached[strength[reached] == 0]
    estimate[reached] *= (1.0 - damping) / (1.0 - damping * estimate[dangling].sum())
    return estimate, reached
