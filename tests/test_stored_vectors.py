"""Stored vectors read into a graph's matrices (store/stored_vectors.py) and a graph read from
streamed rows (GraphData.read): what a cold open of a large store goes through."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from hippograph.errors import StoreError
from hippograph.store import graph_rows, stored_vectors
from hippograph.store.graph_data import GraphData, GraphVersion
from hippograph.store.stored_vectors import read_vectors


def _name(kind: str, row: int) -> str:
    return f"{kind} #{row}"


def _vectors(count: int, dimension: int = 4) -> list[bytes]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(dimension).astype(np.float32).tobytes() for _ in range(count)]


@pytest.mark.parametrize("chunk", [2, 65_536])
def test_vectors_read_in_any_order_land_in_their_records_rows(monkeypatch, chunk):
    monkeypatch.setattr(stored_vectors, "_CHUNK", chunk)  # several writes of a few rows each, or one
    blobs = _vectors(6)
    stored = [(f"k{i}", blob) for i, blob in enumerate(blobs)] + [("unused", _vectors(1)[0])]
    random.Random(3).shuffle(stored)
    passage_keys = ["k0", "k1", "k2", "k1", "missing"]  # two passages of one text share a vector
    fact_keys = ["k5", None, "k3", "k5", "k4"]
    read = read_vectors(stored, passage_keys, fact_keys, _name)
    expected = [np.frombuffer(blobs[i], dtype=np.float32) for i in (0, 1, 2, 1)]
    np.testing.assert_array_equal(read.passages[:4], expected)
    assert not read.passages[4].any()
    assert read.passage_found.tolist() == [True, True, True, True, False]
    assert read.fact_found.tolist() == [True, False, True, True, True]
    np.testing.assert_array_equal(read.facts, [np.frombuffer(blobs[i], dtype=np.float32) for i in (5, 3, 5, 4)])


@pytest.mark.parametrize("odd_first", [True, False])
def test_the_vector_of_another_size_than_most_is_named_even_when_read_first(odd_first):
    blobs = _vectors(4)
    odd = np.ones(3, dtype=np.float32).tobytes()
    stored = [(f"k{i}", blob) for i, blob in enumerate(blobs)]
    stored.insert(0 if odd_first else 2, ("bad", odd))
    with pytest.raises(StoreError, match="the stored vector of fact #1 holds 3 numbers, not 4"):
        read_vectors(stored, ["k0", "k1", "k2", "k3"], [None, "bad"], _name)


@pytest.mark.parametrize("position", [0, 2])
def test_bytes_that_make_no_whole_number_of_floats_are_named_wherever_they_are_read(position):
    stored = [(f"k{i}", blob) for i, blob in enumerate(_vectors(3))]
    stored.insert(position, ("bad", b"bad"))
    with pytest.raises(StoreError, match="the stored vector of passage #1 holds 0.75 numbers"):
        read_vectors(stored, ["k0", "bad", "k1", "k2"], [], _name)


def test_a_vector_holding_nan_is_named():
    blobs = _vectors(3)
    blobs[2] = np.array([1, np.nan, 0, 0], dtype=np.float32).tobytes()
    with pytest.raises(StoreError, match="the stored vector of passage #2 holds NaN or infinity"):
        read_vectors([(f"k{i}", b) for i, b in enumerate(blobs)], ["k0", "k1", "k2"], [], _name)


def test_a_graph_read_from_streamed_rows_is_the_graph_read_from_lists(monkeypatch):
    monkeypatch.setattr(graph_rows, "_CHUNK", 2)  # every column read over several chunks
    blobs = _vectors(4)
    entities = [(f"e{i}", f"Entity {i}") for i in range(5)]
    passages = [(f"p{i}", blobs[i], f"Title {i}", f"2026-0{i + 1}-01T00:00:00Z") for i in range(3)]
    facts = [
        ("e0", "e1", "founded", blobs[3], "2026-01-01T00:00:00Z", None, "f0"),
        ("e1", "e2", "lives in", None, None, None, "f1"),
        ("e3", "e4", "founded", None, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "f2"),
    ]
    mentions = [("p0", "e0"), ("p0", "e1"), ("p1", "e2"), ("p2", "e3"), ("p2", "e4")]
    synonyms = [("e0", "e3", 0.9)]
    links = [("p0", "p1", 0.8, "similar"), ("p1", "p2", 0.7, "llm"), ("p0", "p2", 0.6, "similar")]
    version = GraphVersion("t", "s", 3)
    listed = GraphData.from_rows(version, entities, passages, facts, mentions, synonyms, links)

    stored = {f"key{i}": blob for i, blob in enumerate(blobs)}
    key_of = {blob: key for key, blob in stored.items()}

    def vectors(passage_keys, fact_keys, name):
        return read_vectors(iter(stored.items()), passage_keys, fact_keys, name)

    streamed = GraphData.read(
        version,
        iter(entities),
        iter([(p[0], key_of[p[1]], *p[2:]) for p in passages]),
        iter([(*f[:3], key_of.get(f[3]), *f[4:]) for f in facts]),
        iter(mentions),
        iter(synonyms),
        iter(links),
        vectors,
    )
    for field in dataclasses.fields(GraphData):
        ours, theirs = getattr(streamed, field.name), getattr(listed, field.name)
        if isinstance(theirs, np.ndarray):
            assert ours.dtype == theirs.dtype, field.name
            np.testing.assert_array_equal(ours, theirs, err_msg=field.name)
        else:
            assert ours == theirs, field.name
    assert streamed.fact_vector_rows.tolist() == [0, -1, -1]
    assert streamed.link_kinds == ["similar", "llm", "similar"]


def test_a_passage_whose_vector_is_not_stored_is_left_out_with_its_edges():
    blobs = _vectors(2)
    streamed = GraphData.read(
        GraphVersion("t", "s", 1),
        [("e0", "Entity 0")],
        [("p0", "key0", "", ""), ("p1", "lost", "", ""), ("p2", "key1", "", "")],
        [],
        [("p0", "e0"), ("p2", "e0")],
        [],
        [("p0", "p2", 0.5, "similar")],
        lambda passages, facts, name: read_vectors([("key0", blobs[0]), ("key1", blobs[1])], passages, facts, name),
    )
    assert streamed.passage_ids == ["p0", "p2"]
    np.testing.assert_array_equal(streamed.passage_vectors[1], np.frombuffer(blobs[1], dtype=np.float32))
    assert streamed.mention_passages.tolist() == [0, 1]
    assert (streamed.link_a.tolist(), streamed.link_b.tolist()) == ([0], [1])
