"""Rows a store streams, turned into a graph's columns a chunk at a time (GraphData.read): lists of
ids and names, arrays of indexes. No row outlives its chunk, so reading ten million mentions holds
their arrays, not ten million tuples (two gigabytes).

>>> ends = pairs(iter([("p1", "e2"), ("p0", "e2")]), {"p0": 0, "p1": 1}, {"e2": 0})
>>> [end.tolist() for end in ends]
[[1, 0], [0, 0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter

import numpy as np

__all__ = ["FactColumns", "columns", "pairs", "shared", "weighted_pairs"]


def shared(strings: Iterable[str], distinct: dict[str, str] | None = None) -> list[str]:
    """The strings, each distinct one a single object (the one in `distinct`, where given): a
    million facts name a few thousand relations (one string each in memory, and once in a saved
    view)."""
    distinct = {} if distinct is None else distinct
    return [distinct.setdefault(string, string) for string in strings]


_CHUNK = 65_536  # rows of a streamed read turned into arrays at a time


def _chunks(rows: Iterable[tuple]) -> Iterator[list[tuple]]:
    rows = iter(rows)
    while chunk := list(islice(rows, _CHUNK)):
        yield chunk


def _column(chunk: list[tuple], number: int) -> Iterator:
    return map(itemgetter(number), chunk)  # zip(*chunk) took three times as long


def columns(rows: Iterable[tuple], count: int) -> list[list]:
    """The `count` columns of `rows`, as lists."""
    columns: list[list] = [[] for _ in range(count)]
    for chunk in _chunks(rows):
        for number, column in enumerate(columns):
            column.extend(_column(chunk, number))
    return columns


def _indexes(chunk: list[tuple], number: int, index: dict) -> np.ndarray:
    """The indexes (by `index`) of the ids in column `number` of `chunk`."""
    return np.fromiter(map(index.__getitem__, _column(chunk, number)), dtype=np.int64, count=len(chunk))


def _concatenated(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def pairs(rows: Iterable[tuple], first: dict, second: dict) -> tuple[np.ndarray, np.ndarray]:
    """The indexes (by `first` and `second`) of the two ends of each row, read a chunk at a time."""
    ends: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for chunk in _chunks(rows):
        ends[0].append(_indexes(chunk, 0, first))
        ends[1].append(_indexes(chunk, 1, second))
    return _concatenated(ends[0], np.int64), _concatenated(ends[1], np.int64)


def weighted_pairs(rows: Iterable[tuple], index: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Edges (a, b, weight[, kind]) as the indexes of their ends, their weights and kinds."""
    a, b, weights, kinds = [], [], [], []
    for chunk in _chunks(rows):
        a.append(_indexes(chunk, 0, index))
        b.append(_indexes(chunk, 1, index))
        weights.append(np.fromiter(_column(chunk, 2), dtype=np.float64, count=len(chunk)))
        kinds.extend(_column(chunk, 3) if len(chunk[0]) > 3 else ())
    ends = _concatenated(a, np.int64), _concatenated(b, np.int64)
    return *ends, _concatenated(weights, np.float64), shared(kinds)


@dataclass
class FactColumns:
    """Facts read a chunk at a time into the columns a graph keeps (and their vector keys)."""

    ids: list[str]
    subjects: np.ndarray
    objects: np.ndarray
    relations: list[str]
    vector_keys: list
    valid_from: np.ndarray
    valid_to: np.ndarray

    @classmethod
    def of(cls, facts: Iterable[tuple], entity_index: dict[str, int]) -> FactColumns:
        ids, relations, vector_keys = [], [], []
        subjects, objects, valid_from, valid_to = [], [], [], []
        distinct: dict[str, str] = {}  # one string per relation, as `shared` keeps them
        for chunk in _chunks(facts):
            subjects.append(_indexes(chunk, 0, entity_index))
            objects.append(_indexes(chunk, 1, entity_index))
            relations.extend(shared(_column(chunk, 2), distinct))
            vector_keys.extend(_column(chunk, 3))
            valid_from.append(np.array([row[4] or "" for row in chunk], dtype=str))
            valid_to.append(np.array([row[5] or "" for row in chunk], dtype=str))
            ids.extend(_column(chunk, 6))
        return cls(
            ids,
            _concatenated(subjects, np.int64),
            _concatenated(objects, np.int64),
            relations,
            vector_keys,
            _concatenated(valid_from, str),
            _concatenated(valid_to, str),
        )
