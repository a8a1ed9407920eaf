"""The lexical channel of a store that keeps no full-text index (a graph server: Records.matching
gives None): one namespace's passage titles and texts in an FTS5 table in this process's memory,
ranked as the SQLite store ranks them (store/full_text.py), brought up to date with the namespace's
view by the change log, reading the texts of only the passages written since."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence

from ..store.base import Store
from ..store.full_text import TOKENIZER, any_of, uncommon
from ..store.graph_data import GraphData, GraphVersion

__all__ = ["LexicalIndex"]

log = logging.getLogger(__name__)

_READ_CHUNK = 1000  # passages whose texts are read from the store at a time


class LexicalIndex:
    """BM25 over one namespace's passages, held in memory, ranked as the SQLite store ranks a
    namespace's."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE search USING fts5(passage_id UNINDEXED, body, tokenize='{TOKENIZER}')")
        self._rowids: dict[str, int] = {}  # passage id -> its row
        self._lock = threading.Lock()
        self.version: GraphVersion | None = None  # the state of the store it holds

    def matching(self, terms: Sequence[str], limit: int, common: int | None) -> list[tuple[str, float]]:
        """Store.passages_matching, over the passages held."""
        with self._lock:
            terms = uncommon(self._db, "search", terms, common)
        if not terms:
            return []
        ranked = "SELECT passage_id, -rank FROM search WHERE search MATCH ? ORDER BY rank LIMIT ?"
        with self._lock:
            return self._db.execute(ranked, (f"body : {any_of(terms)}", limit)).fetchall()

    def rare_terms(self, terms: Sequence[str], at_most: int) -> list[str]:
        """Store.rare_terms, over the passages held."""
        with self._lock:
            return uncommon(self._db, "search", terms, at_most)

    def caught_up(self, store: Store, namespace: str, data: GraphData) -> None:
        """Hold the passages of `data`, the namespace's current view (never a view as of a time,
        which holds the current view's version and fewer passages): those the change log says
        were written or deleted since the state held are read again; all of them when it cannot
        say (or nothing is held yet)."""
        if self.version == data.version:
            return
        delta = None
        if self.version is not None:
            delta = store.passage_changes(namespace, dataclasses.replace(data, version=self.version), vectors=False)
        started = time.perf_counter()
        self.version = None  # until caught up: should reading the texts fail, all is read again next time
        with self._lock, self._db:
            if delta is None:
                self._db.execute("DELETE FROM search")
                self._rowids.clear()
                written = [passage for passage, alive in zip(data.passage_ids, data.passage_alive.tolist()) if alive]
            else:
                written = sorted({row[0] for row in delta.passages})
                for passage in written + sorted(delta.gone.get("passage", ())):
                    if (rowid := self._rowids.pop(passage, None)) is not None:
                        self._db.execute("DELETE FROM search WHERE rowid = ?", (rowid,))
            for start in range(0, len(written), _READ_CHUNK):
                for passage in store.passages(written[start : start + _READ_CHUNK]).values():
                    cursor = self._db.execute(
                        "INSERT INTO search (passage_id, body) VALUES (?, ?)",
                        (passage.id, " ".join([passage.title, passage.text, *(m.words for m in passage.times)])),
                    )
                    self._rowids[passage.id] = cursor.lastrowid
        self.version = data.version
        if delta is None:
            log.info(
                "indexed the words of %r (%d passages) in %.1f s",
                namespace,
                len(written),
                time.perf_counter() - started,
            )
