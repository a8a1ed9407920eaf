"""Stored vectors (float32 bytes) as matrices: a graph's passages and facts read from a stream of
(key, bytes), written straight into their rows so that no copy of every vector's bytes is held
(a million passages: 1.5 GB), and a few vectors given as bytes stacked in one go. A vector of
another size than the others, or holding NaN or infinity (which would silently empty every
ranking), is a StoreError naming its record.

>>> import numpy as np
>>> one, two = np.ones(3, dtype=np.float32).tobytes(), np.full(3, 2, dtype=np.float32).tobytes()
>>> name = lambda kind, row: f"{kind} {row}"
>>> read = read_vectors([("k2", two), ("k1", one)], ["k1", "k2", "k9"], ["k2", None], name)
>>> read.passages.tolist(), read.passage_found.tolist()
([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]], [True, True, False])
>>> read.facts.tolist(), read.fact_found.tolist()
([[2.0, 2.0, 2.0]], [True, False])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NoReturn

import numpy as np

from ..errors import StoreError

__all__ = ["GraphVectors", "RecordName", "read_vectors", "stack_vectors"]

_CHUNK = 65_536  # vectors whose bytes are joined and written at a time (96 MB of 384 numbers)

RecordName = Callable[[str, int], str]
"""The name of a graph's record in an error message: ("passage" or "fact", its row) -> name."""


@dataclass
class GraphVectors:
    """The vectors of a graph's passages and facts."""

    passages: np.ndarray  # (passages, dimension) float32; zeros where none is stored
    passage_found: np.ndarray  # (passages,) bool: a vector is stored
    facts: np.ndarray  # (facts found, dimension) float32, in the facts' order
    fact_found: np.ndarray  # (facts,) bool


def read_vectors(
    stored: Iterable[tuple[Hashable, bytes]],
    passage_keys: Sequence[Hashable],
    fact_keys: Sequence[Hashable | None],
    name: RecordName,
) -> GraphVectors:
    """The vectors of the passages and facts whose keys are given (None: a fact without one),
    from `stored` (key, bytes) pairs in any order, keys none has left out. Each passage's vector
    is written into its row as it is read."""
    passage_row, passage_copies = _rows_by_key(passage_keys)
    fact_row, fact_copies = _rows_by_key(fact_keys)
    width: int | None = None  # bytes of a vector: the first one read's
    passages = np.zeros((len(passage_keys), 0), dtype=np.float32)
    passage_found = np.zeros(len(passage_keys), dtype=bool)
    pending: tuple[list[int], list[bytes]] = ([], [])
    facts_read: list[tuple[int, bytes]] = []
    first_read = ("passage", 0)  # the record whose vector set the width
    odd: dict[int, list] = {}  # another size than width -> [a record holding one, how many]
    for key, blob in stored:
        row, fact = passage_row.get(key), fact_row.get(key)
        if row is None and fact is None:
            continue
        if len(blob) % 4 or (width is not None and len(blob) != width):
            odd.setdefault(len(blob), [_record(row, fact), 0])[1] += 1
            continue
        if width is None:
            width, first_read = len(blob), _record(row, fact)
            passages = np.zeros((len(passage_keys), width // 4), dtype=np.float32)
        if row is not None:
            pending[0].append(row)
            pending[1].append(blob)
            if len(pending[0]) >= _CHUNK:
                _write(passages, passage_found, pending)
        if fact is not None:
            facts_read.append((fact, blob))
    _write(passages, passage_found, pending)
    if odd:
        _bad_size(first_read, width, int(passage_found.sum()) + len(facts_read), odd, name)
    for row, first in passage_copies:  # passages of one text share a vector
        passages[row], passage_found[row] = passages[first], passage_found[first]
    blob_of = dict(facts_read)
    facts_read += [(row, blob_of[first]) for row, first in fact_copies if first in blob_of]
    facts_read.sort(key=itemgetter(0))
    facts = np.frombuffer(b"".join(blob for _, blob in facts_read), dtype=np.float32).reshape(
        len(facts_read), passages.shape[1]
    )
    fact_found = np.zeros(len(fact_keys), dtype=bool)
    fact_found[[row for row, _ in facts_read]] = True
    _check_finite(passages, lambda row: name("passage", row))
    embedded = np.flatnonzero(fact_found)
    _check_finite(facts, lambda row: name("fact", int(embedded[row])))
    return GraphVectors(passages, passage_found, facts.copy(), fact_found)


def _rows_by_key(keys: Sequence[Hashable | None]) -> tuple[dict[Hashable, int], list[tuple[int, int]]]:
    """key -> the first row holding it, and (row, first row) for each row holding a key an
    earlier row holds (records of the same text share a vector)."""
    # from the end, so that the first row of a key is the one kept
    first: dict[Hashable, int] = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1)))
    first.pop(None, None)
    copies = (
        []
        if len(first) == len(keys)
        else [(row, first[key]) for row, key in enumerate(keys) if key is not None and first[key] != row]
    )
    return first, copies


def _record(passage_row: int | None, fact_row: int | None) -> tuple[str, int]:
    """The record a vector was read for, to name it: its passage, else its fact."""
    return ("passage", passage_row) if passage_row is not None else ("fact", fact_row)


def _bad_size(
    first_read: tuple[str, int], width: int | None, held: int, odd: dict[int, list], name: RecordName
) -> NoReturn:
    """Name a record whose vector's size is not the one most vectors have: one whose bytes make no
    whole number of float32s, one of another size than the first read (`held` of `width` bytes),
    or the first read itself."""
    broken = [size for size in odd if size % 4]
    if not broken:  # then some vector was read whole, and set `width`
        usual, (_, count) = max(odd.items(), key=lambda item: item[1][1])
        if count > held:
            _bad_vector(name(*first_read), f"{width / 4:g} numbers, not {usual / 4:g}")
    size = broken[0] if broken else next(iter(odd))
    _bad_vector(name(*odd[size][0]), f"{size / 4:g} numbers" + (f", not {width / 4:g}" if width else ""))


def _write(matrix: np.ndarray, found: np.ndarray, pending: tuple[list[int], list[bytes]]) -> None:
    """Write the pending vectors into their rows, in bulk (row by row took 0.7 s for 100,000)."""
    rows, blobs = pending
    if rows:
        matrix[rows] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), matrix.shape[1])
        found[rows] = True
    rows.clear()
    blobs.clear()


def stack_vectors(blobs: list[bytes | None], dimension: int | None = None, ids: list[str] | None = None) -> np.ndarray:
    """Vectors given as float32 bytes, one row each; a missing one (None) becomes zeros. A
    vector of another size than `dimension` (by default the size most of them have), or not
    finite, is a StoreError naming its record by `ids` (one per blob)."""
    if dimension is None:  # the size most vectors have, so that the one that differs is named
        sizes = Counter(len(blob) for blob in blobs if blob is not None)
        dimension = sizes.most_common(1)[0][0] // 4 if sizes else 0
    matrix = np.zeros((len(blobs), dimension), dtype=np.float32)
    found = np.zeros(len(blobs), dtype=bool)
    name = (lambda row: ids[row]) if ids else (lambda row: f"row {row}")
    for row, blob in enumerate(blobs):
        if blob is not None and len(blob) != 4 * dimension:
            _bad_vector(name(row), f"{len(blob) / 4:g} numbers, not {dimension}")
    held = [row for row, blob in enumerate(blobs) if blob is not None]
    for start in range(0, len(held), _CHUNK):
        rows = held[start : start + _CHUNK]
        _write(matrix, found, (rows, [blobs[row] for row in rows]))
    _check_finite(matrix, name)
    return matrix


def _check_finite(matrix: np.ndarray, name: Callable[[int], str]) -> None:
    not_finite = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(not_finite):
        _bad_vector(name(int(not_finite[0])), "NaN or infinity")


def _bad_vector(record: str, what: str) -> NoReturn:
    raise StoreError(
        f"the stored vector of {record} holds {what}; `hippograph export` the store and import the "
        "file into a new one to find what else does not fit"
    )
