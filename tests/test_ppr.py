"""Personalized PageRank against the closed-form solution on small graphs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hippograph.graph.adjacency import Adjacency
from hippograph.graph.ppr import PageRank


def closed_form(adjacency: np.ndarray, seeds: np.ndarray, damping: float) -> np.ndarray:
    """p = (1-d) s + d (P p + (dangling mass) s), solved exactly."""
    n = len(seeds)
    strength = adjacency.sum(axis=0)
    transition = np.divide(adjacency, strength, out=np.zeros_like(adjacency), where=strength > 0)
    restart = seeds / seeds.sum()
    dangling = (strength == 0).astype(float)
    system = np.eye(n) - damping * transition - damping * np.outer(restart, dangling)
    return np.linalg.solve(system, (1 - damping) * restart)


@pytest.mark.parametrize("damping", [0.5, 0.85])
def test_matches_closed_form_including_a_dangling_node(damping):
    rng = np.random.default_rng(7)
    dense = np.triu(rng.random((12, 12)) * (rng.random((12, 12)) < 0.4), 1)
    dense = dense + dense.T
    dense[11, :] = dense[:, 11] = 0  # node 11 has no edge
    seeds = np.zeros(12)
    seeds[[0, 3]] = [2.0, 1.0]
    scores = PageRank(Adjacency.of_matrix(sp.csr_matrix(dense))).scores(
        seeds, damping, tolerance=1e-12, max_iterations=1000
    )
    np.testing.assert_allclose(scores, closed_form(dense, seeds, damping), atol=1e-10)
    assert scores.sum() == pytest.approx(1.0)


def test_matches_closed_form_on_a_larger_weighted_graph_at_the_default_tolerance():
    rng = np.random.default_rng(11)
    n = 400
    upper = sp.random(n, n, density=0.01, random_state=rng, format="csr")
    adjacency = sp.triu(upper, 1) + sp.triu(upper, 1).T
    seeds = np.zeros(n)
    seeds[rng.choice(n, 5, replace=False)] = rng.random(5)
    seeds[200:] += 0.001  # a little mass everywhere, as the passage seeds give
    scores = PageRank(Adjacency.of_matrix(adjacency.tocsr())).scores(seeds, 0.7)
    expected = closed_form(adjacency.toarray(), seeds, 0.7)
    assert np.abs(scores - expected).sum() < 1e-6
    np.testing.assert_array_equal(np.argsort(-scores)[:20], np.argsort(-expected)[:20])


def test_mass_stays_in_the_seeds_component():
    dense = np.zeros((4, 4))
    dense[0, 1] = dense[1, 0] = 1.0
    dense[2, 3] = dense[3, 2] = 1.0
    scores = PageRank(Adjacency.of_matrix(sp.csr_matrix(dense))).scores(np.array([1.0, 0, 0, 0]), 0.5)
    assert scores[2] == scores[3] == 0.0
    assert scores[0] > scores[1] > 0


def test_no_seed_is_an_error():
    with pytest.raises(ValueError):
        PageRank(Adjacency.of_matrix(sp.csr_matrix(np.ones((2, 2))))).scores(np.zeros(2), 0.5)


def test_top_indexes_breaks_ties_by_index_like_a_full_stable_sort():
    from hippograph.retrieve.ranked import top_indexes

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=200).astype(float)  # many ties
    for k in (1, 3, 10, 199, 200, 500):
        expected = np.argsort(-scores, kind="stable")[:k]
        np.testing.assert_array_equal(top_indexes(scores, k), expected)


def test_an_adjacency_changed_by_deltas_walks_like_one_assembled_whole():
    """Edges added and removed after assembly (nodes appended too) give the PageRank scores and
    the neighbours of the adjacency assembled from the final edges."""
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, 30, 80), rng.integers(0, 30, 80)
    weights = rng.uniform(0.5, 2.0, 80)
    changed = Adjacency.assembled(rows[:60], cols[:60], weights[:60], 30)
    gone = np.arange(10)  # the first ten edges go again, the last twenty come, two nodes appear
    more_rows, more_cols = np.append(rows[60:], 30), np.append(cols[60:], 31)
    changed = changed.changed(
        np.concatenate([rows[gone], more_rows]),
        np.concatenate([cols[gone], more_cols]),
        np.concatenate([-weights[gone], weights[60:], [1.0]]),
        32,
    )
    kept = np.r_[10:80]
    whole = Adjacency.assembled(np.append(rows[kept], 30), np.append(cols[kept], 31), np.append(weights[kept], 1.0), 32)
    seeds = rng.random(32)
    np.testing.assert_allclose(
        PageRank(changed).scores(seeds, 0.7, tolerance=1e-12),
        PageRank(whole).scores(seeds, 0.7, tolerance=1e-12),
        atol=1e-12,
    )
    for node in range(32):
        nodes = np.array([node])
        assert set(changed.neighbours(nodes)[1].tolist()) == set(whole.neighbours(nodes)[1].tolist())


def _weighted_graph_with_dangling_nodes(rng: np.random.Generator, n: int = 300) -> sp.csr_matrix:
    upper = sp.random(n, n, density=0.02, random_state=rng, format="csr")
    adjacency = (sp.triu(upper, 1) + sp.triu(upper, 1).T).tolil()
    adjacency[n - 5 :, :] = 0  # five nodes without edges
    adjacency[:, n - 5 :] = 0
    return adjacency.tocsr()


@pytest.mark.parametrize("epsilon", [1e-4, 1e-6])
def test_local_push_is_within_its_error_bound_of_the_global_solver(epsilon):
    """The bound of graph/push.py's docstring: never above the exact scores, and below them by at
    most epsilon·strength/(1 - d) (times the dangling correction), node by node."""
    from hippograph.graph.push import local_scores

    rng = np.random.default_rng(13)
    adjacency = Adjacency.of_matrix(_weighted_graph_with_dangling_nodes(rng))
    seeds = np.zeros(adjacency.size)
    seeds[[3, 40, 297]] = [1.0, 0.5, 0.2]  # 297 has no edge: its mass jumps back to the seeds
    exact = closed_form(adjacency.base.toarray(), seeds, 0.7)
    pushed = local_scores(adjacency, seeds, 0.7, epsilon)
    gap = exact - pushed
    assert gap.min() > -1e-12
    assert (gap <= 1.1 * epsilon * adjacency.strength / 0.3 + 1e-12).all()
    assert gap.max() > 0  # it did stop early somewhere: the bound is what was tested
    np.testing.assert_array_equal(np.argsort(-exact)[:5], np.argsort(-pushed)[:5])


def test_local_push_walks_a_changed_adjacency_like_one_assembled_whole():
    from hippograph.graph.push import local_scores

    rng = np.random.default_rng(17)
    rows, cols = rng.integers(0, 40, 120), rng.integers(0, 40, 120)
    weights = rng.uniform(0.5, 2.0, 120)
    changed = Adjacency.assembled(rows[:100], cols[:100], weights[:100], 40).changed(
        np.concatenate([rows[:15], rows[100:]]),
        np.concatenate([cols[:15], cols[100:]]),
        np.concatenate([-weights[:15], weights[100:]]),
        42,
    )
    whole = Adjacency.assembled(rows[15:], cols[15:], weights[15:], 42)
    seeds = np.zeros(42)
    seeds[[0, 7, 41]] = 1.0
    np.testing.assert_allclose(
        local_scores(changed, seeds, 0.7, 1e-12), PageRank(whole).scores(seeds, 0.7, 1e-12), atol=1e-10
    )


def test_local_push_leaves_the_unreached_graph_at_zero():
    from hippograph.graph.push import local_scores

    dense = np.zeros((4, 4))
    dense[0, 1] = dense[1, 0] = 1.0
    dense[2, 3] = dense[3, 2] = 1.0
    scores = local_scores(Adjacency.of_matrix(sp.csr_matrix(dense)), np.array([1.0, 0, 0, 0]), 0.5, 1e-9)
    assert scores[2] == scores[3] == 0.0
    assert scores.sum() == pytest.approx(1.0, abs=1e-8)
