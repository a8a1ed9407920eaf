"""Arrays that grow in place: rows appended into spare room of their buffer, so that adding a
row to a large matrix (a graph view's vectors, a neighbour index) does not copy the matrix."""

from __future__ import annotations

import threading
import weakref

import numpy as np

__all__ = ["appended"]

_growing = threading.Lock()
_used: dict[int, tuple[weakref.ref, int]] = {}  # id(buffer) -> (the buffer, rows the latest view uses)


def appended(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`matrix` with `rows` below it. Written into spare room of the buffer `matrix` is the front
    of, when no other matrix has claimed that room; else into a new buffer with as much room
    again. The rows of `matrix` are never changed, so a view still reading it is unaffected.

    >>> grown = appended(np.zeros((2, 3)), np.ones((1, 3)))
    >>> grown.shape, appended(grown, np.ones((1, 3))).base is grown.base  # into grown's spare room
    ((3, 3), True)
    >>> appended(grown, np.ones((1, 3))).base is grown.base  # that room is taken: a new buffer
    False
    """
    if not len(rows):
        return matrix
    with _growing:
        buffer = matrix.base
        claimed = _used.get(id(buffer)) if buffer is not None else None
        size = len(matrix) + len(rows)
        if claimed is None or claimed[0]() is not buffer or claimed[1] != len(matrix) or len(buffer) < size:
            buffer = np.empty((max(2 * size, 64), matrix.shape[1]), dtype=matrix.dtype)
            buffer[: len(matrix)] = matrix
            key = id(buffer)
            _used[key] = (weakref.ref(buffer, lambda _: _used.pop(key, None)), 0)
        buffer[len(matrix) : size] = rows
        _used[id(buffer)] = (_used[id(buffer)][0], size)
        return buffer[:size]
