"""Arrays and lists that grow in place: items appended into spare room of a buffer, so that adding
a row to a large matrix (a graph view's vectors, a neighbour index) or an id to a long list of
ids does not copy them. What an older array or list holds never changes: a view still reading it
is unaffected."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from itertools import islice

import numpy as np

__all__ = ["GrowingList", "appended", "extended"]

_growing = threading.Lock()
_used: dict[int, tuple[weakref.ref, int]] = {}  # id(buffer) -> (the buffer, rows the latest view uses)


def appended(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`matrix` with `rows` below it (any number of dimensions; rows of a wider string type widen
    the result). Written into spare room of the buffer `matrix` is the front of, when no other
    matrix has claimed that room; else into a new buffer with as much room again. The rows of
    `matrix` are never changed, so a view still reading it is unaffected.

    >>> grown = appended(np.zeros((2, 3)), np.ones((1, 3)))
    >>> grown.shape, appended(grown, np.ones((1, 3))).base is grown.base  # into grown's spare room
    ((3, 3), True)
    >>> appended(grown, np.ones((1, 3))).base is grown.base  # that room is taken: a new buffer
    False
    >>> appended(np.array(["", ""]), np.array(["2024-01-01"])).tolist()  # no string cut short
    ['', '', '2024-01-01']
    """
    if not len(rows):
        return matrix
    dtype = np.result_type(matrix, rows) if matrix.dtype.kind in "UO" else matrix.dtype
    with _growing:
        buffer = matrix.base
        claimed = _used.get(id(buffer)) if buffer is not None else None
        size = len(matrix) + len(rows)
        if (
            claimed is None
            or claimed[0]() is not buffer
            or claimed[1] != len(matrix)
            or len(buffer) < size
            or dtype != matrix.dtype
            or not _front_of(matrix, buffer)
        ):
            buffer = np.empty((max(2 * size, 64), *matrix.shape[1:]), dtype=dtype)
            buffer[: len(matrix)] = matrix
            key = id(buffer)
            _used[key] = (weakref.ref(buffer, lambda _: _used.pop(key, None)), 0)
        buffer[len(matrix) : size] = rows
        _used[id(buffer)] = (_used[id(buffer)][0], size)
        return buffer[:size]


def _front_of(matrix: np.ndarray, buffer: np.ndarray) -> bool:
    """Whether `matrix` is the first rows of `buffer` (not another view of it: a column, reversed)."""
    return (
        matrix.__array_interface__["data"][0] == buffer.__array_interface__["data"][0]
        and matrix.strides == buffer.strides
        and matrix.shape[1:] == buffer.shape[1:]
    )


class GrowingList(Sequence):
    """The first `size` items of a shared list, read-only. `extended` appends to the shared list
    when this is its longest reader, so a list of ids grows without being copied."""

    __slots__ = ("_items", "_size")

    def __init__(self, items: list, size: int) -> None:
        self._items, self._size = items, size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._items[: self._size][index]
        if not -self._size <= index < self._size:
            raise IndexError("GrowingList index out of range")
        return self._items[index % self._size]

    def __iter__(self) -> Iterator:
        return islice(self._items, self._size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == self._size and all(a == b for a, b in zip(self, other))

    def __repr__(self) -> str:
        return f"GrowingList({list(self)!r})"


def extended(items: Sequence, more: Sequence) -> Sequence:
    """`items` with `more` after them, sharing `items`' list when nothing was appended to it since.

    >>> first = extended(["a"], ["b"])
    >>> second = extended(first, ["c"])
    >>> list(first), list(second), list(extended(first, ["d"]))  # first's room is taken: a copy
    (['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'd'])
    """
    if not len(more):
        return items
    with _growing:
        if isinstance(items, GrowingList) and len(items._items) == len(items):
            items._items.extend(more)
            return GrowingList(items._items, len(items._items))
        shared = [*items, *more]
        return GrowingList(shared, len(shared))
