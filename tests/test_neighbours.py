"""The nearest-neighbour index of note linking and synonymy: the approximate search (HNSW) pairs
the items the exact search pairs, through adds and removals."""

from __future__ import annotations

import numpy as np

from hippograph.embed.neighbours import NeighbourIndex


def _clustered(rng: np.random.Generator, count: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around random centres, so that some pairs pass a 0.8 threshold and most do not."""
    noise = 0.6 / np.sqrt(centres.shape[1]) * rng.standard_normal((count, centres.shape[1]))
    vectors = centres[rng.integers(len(centres), size=count)] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_the_approximate_search_links_what_the_exact_search_links():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 64)) / np.sqrt(64)
    first = _clustered(rng, 600, centres)
    ids = [f"n{i}" for i in range(600)]
    exact = NeighbourIndex(ids[:300], first[:300], approximate_from=10**9)
    approximate = NeighbourIndex(ids[:300], first[:300], approximate_from=200, linked_before_graph=1)
    assert not approximate.approximate  # loaded, nothing linked yet: still exact
    approximate.link(ids[:300], first[:300], 0.8, 3)  # the stored items linked again: now past both
    exact.link(ids[:300], first[:300], 0.8, 3)
    assert approximate.approximate and not exact.approximate
    for index in (exact, approximate):
        index.remove(ids[:50:3])  # some earlier notes deleted
    pairs = [index.link(ids[300:], first[300:], 0.8, 3) for index in (exact, approximate)]
    _assert_same_pairs(*pairs)
    assert len(pairs[0]) > 100  # the threshold pairs many, and caps them at 3 each
    linked = {item for pair in pairs[0] for item in pair[:2]}
    assert linked.isdisjoint(ids[:50:3])  # a removed item is never a neighbour
    more = _clustered(rng, 100, centres)
    more_ids = [f"m{i}" for i in range(100)]
    _assert_same_pairs(exact.link(more_ids, more, 0.8, 3), approximate.link(more_ids, more, 0.8, 3))


def _assert_same_pairs(exact: list, approximate: list) -> None:
    """The same pairs; weights equal up to the rounding of two ways of multiplying."""
    assert [pair[:2] for pair in exact] == [pair[:2] for pair in approximate]
    np.testing.assert_allclose([pair[2] for pair in exact], [pair[2] for pair in approximate], atol=1e-6)


def test_an_item_removed_and_added_again_comes_back_with_its_new_vector():
    rng = np.random.default_rng(5)
    vectors = _clustered(rng, 30, rng.standard_normal((3, 16)))
    index = NeighbourIndex([f"n{i}" for i in range(30)], vectors, approximate_from=10, linked_before_graph=1)
    index.link(["n29"], vectors[29:], 0.8, 3)  # one query: usearch answers it differently from a batch
    assert index.approximate
    index.remove(["n0"])
    assert "n0" not in index
    index.add(["n0"], vectors[1:2])  # now the same as n1
    assert index.similarity("n0", "n1") > 0.999
    assert index.is_before("n1", "n0")
    assert index.nearest_earlier("n0", 1) == ["n1"]
