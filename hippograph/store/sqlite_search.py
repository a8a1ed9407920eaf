"""The SQLite store's full-text index: each namespace's passages (title and text) in a contentless
FTS5 table of its own, so that one namespace's term statistics, and so its BM25 scores, never
depend on another's. The store's Records keep it in the transaction that inserts, changes or
deletes passages; its rowids are those of `passage_search_ids` (schema.sql), since a passage's
own rowid may change in a VACUUM.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from .full_text import TOKENIZER, any_of, uncommon

__all__ = ["PassageSearch"]

_MAX_PARAMS = 900
# What a passage is found by: its title, text and the days its time expressions name in words
# ("7 May 2023" beside "yesterday"). A contentless table must be told it again to forget it.
_BODY = (
    "p.title || ' ' || p.text || "
    "COALESCE((SELECT ' ' || group_concat(json_extract(value, '$.words'), ' ') FROM json_each(p.times)), '')"
)


class PassageSearch:
    """The full-text index of the passages of one SQLite connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def index(self, passage_ids: Sequence[str]) -> None:
        """Add stored passages (just inserted or changed) to their namespaces' tables."""
        if passage_ids:
            last = self._last_id()
            self._db.executemany("INSERT INTO passage_search_ids (passage_id) VALUES (?)", [[p] for p in passage_ids])
            self._index_after(last)

    def index_unindexed(self) -> None:
        """Add every stored passage not in the index yet (a store of an earlier schema)."""
        last = self._last_id()
        self._db.execute(
            "INSERT INTO passage_search_ids (passage_id) SELECT id FROM passages "
            "WHERE id NOT IN (SELECT passage_id FROM passage_search_ids) ORDER BY id"
        )
        self._index_after(last)

    def unindex(self, passage_ids: Sequence[str]) -> None:
        """Take stored passages (about to be deleted or changed) out of the index."""
        for start in range(0, len(passage_ids), _MAX_PARAMS):
            chunk = passage_ids[start : start + _MAX_PARAMS]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT p.namespace, i.id, {_BODY} FROM passages p JOIN passage_search_ids i ON i.passage_id = p.id "
                f"WHERE p.id IN ({marks})",
                chunk,
            ).fetchall()
            by_namespace: dict[str, list[tuple[int, str]]] = {}
            for namespace, rowid, body in rows:
                by_namespace.setdefault(namespace, []).append((rowid, body))
            for namespace, indexed in by_namespace.items():
                table = self._table(namespace)
                if table is not None:
                    self._db.executemany(f"INSERT INTO {table} ({table}, rowid, body) VALUES ('delete', ?, ?)", indexed)
            self._db.execute(f"DELETE FROM passage_search_ids WHERE passage_id IN ({marks})", chunk)

    def matching(self, namespace: str, terms: Sequence[str], limit: int, common: int | None) -> list[tuple[str, float]]:
        """Records.matching."""
        table = self._table(namespace)
        terms = [] if table is None else uncommon(self._db, table, terms, common)
        if not terms:
            return []
        # FTS5's rank is its bm25, lower for a better match; ordering by it inside, not by a
        # join's bm25(), lets FTS5 sort by itself (5,000 matches: 15 ms instead of 50). One
        # statement: the ranking and the ids are read in one snapshot.
        return self._db.execute(
            f"SELECT i.passage_id, -s.rank FROM (SELECT rowid, rank FROM {table} WHERE {table} MATCH ? "
            "ORDER BY rank LIMIT ?) s JOIN passage_search_ids i ON i.id = s.rowid ORDER BY s.rank",
            (any_of(terms), limit),
        ).fetchall()

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> list[str]:
        """Records.rare_terms."""
        table = self._table(namespace)
        return [] if table is None else uncommon(self._db, table, terms, at_most)

    def _index_after(self, last: int) -> None:
        """Put the passages whose index rows come after `last` into their namespaces' tables."""
        # CROSS JOIN keeps SQLite's planner to this order: reading the namespace's passages by
        # their namespace index first and probing each made every batch read all of them
        # (2.4 s a batch at 1,000,000 passages).
        joined = "FROM passage_search_ids i CROSS JOIN passages p ON p.id = i.passage_id WHERE i.id > ?"
        for (namespace,) in self._db.execute(f"SELECT DISTINCT p.namespace {joined}", (last,)).fetchall():
            table = self._table(namespace, create=True)
            self._db.execute(
                f"INSERT INTO {table} (rowid, body) SELECT i.id, {_BODY} {joined} AND p.namespace = ?",
                (last, namespace),
            )

    def _last_id(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM passage_search_ids").fetchone()[0]

    def _table(self, namespace: str, create: bool = False) -> str | None:
        """The name of the namespace's table (made first, with `create`); None when it has none."""
        table = "passage_search_" + hashlib.sha1(namespace.encode()).hexdigest()[:16]
        if create:
            self._db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(body, content='', tokenize='{TOKENIZER}')"
            )
        elif self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is None:
            return None
        return table
