"""The embedded store: one SQLite file (WAL), each write batch one transaction.

The records of the export format are the rows of one table each (schema.sql); `_SQLRecords`
reads and writes them in SQL for the algorithm in writes.py and record_store.py, and foreign keys
with ON DELETE CASCADE remove what cannot stand without a deleted row. How the file is opened and
each transaction committed is sqlite_connection.py; the full-text index, sqlite_search.py.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TypeVar

from ..errors import ReadOnlyStore, StoreError
from .base import KEYS, Key, checked_fields, fields_read, record_key
from .record_store import RecordStore
from .sqlite_connection import Transaction, connect_read_only, connect_writable, end_bulk_writes, writable
from .sqlite_search import PassageSearch
from .transfer import RECORDS

__all__ = ["STORE_FILE", "SQLiteStore"]

SCHEMA_VERSION = "4"
# Columns added since schema version 1, by table: what an upgrade adds to an older file.
_ADDED_COLUMNS = {
    "passages": {
        "extraction_error": "TEXT",
        "keywords": "TEXT NOT NULL DEFAULT '[]'",
        "tags": "TEXT NOT NULL DEFAULT '[]'",
        "context": "TEXT NOT NULL DEFAULT ''",
        "updated_at": "TEXT",
        "times": "TEXT NOT NULL DEFAULT '[]'",  # version 4
    },
    "facts": {"relation_group": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT"},
}
STORE_FILE = "hippograph.sqlite"
_MAX_PARAMS = 900  # stay under SQLite's bound-parameter limit
log = logging.getLogger(__name__)
T = TypeVar("T")

TABLES = {
    "embedding": "embeddings",
    "document": "documents",
    "passage": "passages",
    "entity": "entities",
    "mention": "mentions",
    "fact": "facts",
    "fact_source": "fact_sources",
    "synonym": "synonyms",
    "link": "links",
    "note_change": "note_history",
}
# The namespace of a record type without one: that of the row it starts at (table, column).
_NAMESPACE_OF = {
    "mention": ("passages", "passage_id"),
    "fact_source": ("passages", "passage_id"),
    "synonym": ("entities", "a"),
    "link": ("passages", "a"),
    "note_change": ("passages", "passage_id"),
}


def _chunks(items: Sequence, size: int = _MAX_PARAMS) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class SQLiteStore(RecordStore):
    """A memory kept in `<folder>/hippograph.sqlite`; with `create`, a missing store is made.
    With `read_only` (or when the folder cannot be written) nothing is ever written to the
    folder, not even schema: a mounted snapshot or a shared folder can be queried."""

    def __init__(self, folder: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file; a store is a folder (it holds {STORE_FILE})")
        self.path = folder / STORE_FILE
        self.index_folder = folder / "indexes"
        if (read_only or not create) and not self.path.exists():
            raise StoreError(f"no store at {folder}: ingest something into it first")
        if not read_only and self.path.exists() and not writable(self.path):
            log.info("%s cannot be written: opening it read-only", folder)
            read_only = True
        self.read_only = read_only
        self._bulk = False  # in bulk_writes
        try:
            if read_only:
                self._db = connect_read_only(self.path)
                self._records = _SQLRecords(self._db)
                self._check_schema()
                return
            folder.mkdir(parents=True, exist_ok=True)
            self._db = connect_writable(self.path)
            self._records = _SQLRecords(self._db)
            self._create_schema()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open {self.path} as a hippograph store: {err}") from None

    def _check_schema(self) -> None:
        """A store opened read-only may be of the last version too: it has no full-text index,
        so its words are ranked in memory (graph/lexical_index.py), and no note names a time."""
        version = self._records.meta("schema_version")
        if version not in (SCHEMA_VERSION, "3"):
            raise StoreError(
                f"{self.path} has schema version {version}; this hippograph reads {SCHEMA_VERSION} "
                "and cannot upgrade a store opened read-only: open it once writable"
            )
        self._records.full_text = version == SCHEMA_VERSION
        if version == "3":  # its passages lack `times`: this connection reads them through a view that has none
            self._db.execute("CREATE TEMP VIEW passages AS SELECT *, '[]' AS times FROM main.passages")

    def _create_schema(self) -> None:
        version = self._records.meta("schema_version")
        if version is not None and version not in (SCHEMA_VERSION, "1", "2", "3"):
            raise StoreError(f"{self.path} has schema version {version}; this hippograph reads {SCHEMA_VERSION}")
        if version in ("1", "2", "3"):
            self._add_columns()
        schema = resources.files("hippograph.store").joinpath("schema.sql").read_text()
        try:
            self._db.executescript(schema)
        except sqlite3.OperationalError as err:
            if "fts5" not in str(err):
                raise
            raise StoreError(
                f"this Python's SQLite ({sqlite3.sqlite_version}) lacks FTS5, which a store needs"
            ) from None
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0')")
        if version is not None and version != SCHEMA_VERSION:
            self._index_stored_passages()

    def _add_columns(self) -> None:
        """Add the columns of later schema versions (the new tables come with the schema script),
        in one write transaction that re-checks under the lock (another process may be upgrading
        the same file). From version 1 or 2, facts get their validity from their notes' times.
        Notes stored before version 4 keep no resolved times (nothing says whether their time
        was given or is when they were stored) until their text changes."""
        with Transaction(self._db, self.path, self._records, write=True):
            version = self._records.meta("schema_version")
            if version not in ("1", "2", "3"):
                return
            for table, added in _ADDED_COLUMNS.items():
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column, kind in added.items():
                    if column not in columns:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if version in ("1", "2"):
                self._db.execute(
                    "UPDATE facts SET valid_from = (SELECT MIN(p.created_at) FROM fact_sources s "
                    "JOIN passages p ON p.id = s.passage_id WHERE s.fact_id = facts.id)"
                )
                self._db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")

    def _index_stored_passages(self) -> None:
        """Schema version 4: put the passages stored before it into the full-text index."""
        with Transaction(self._db, self.path, self._records, write=True):
            if self._records.meta("schema_version") == SCHEMA_VERSION:
                return
            PassageSearch(self._db).index_unindexed()
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    def _reading(self) -> contextlib.AbstractContextManager[_SQLRecords]:
        return contextlib.nullcontext(self._records)  # each statement reads the latest commit

    def _snapshot(self, read: Callable[[_SQLRecords], T]) -> T:
        with self._exporting() as records:
            return read(records)

    def _exporting(self) -> contextlib.AbstractContextManager[_SQLRecords]:
        return Transaction(
            self._db, self.path, self._records, write=False
        )  # one snapshot, even while another process writes

    def _write(self, work: Callable[[_SQLRecords], T], *, retry: bool = True) -> T:
        if self.read_only:
            raise ReadOnlyStore(f"{self.path} is open read-only; nothing was written")
        with Transaction(self._db, self.path, self._records, write=True, bulk=self._bulk) as records:
            return work(records)

    @contextlib.contextmanager
    def bulk_writes(self) -> Iterator[None]:
        self._bulk = True
        try:
            yield
        finally:
            self._bulk = False
            end_bulk_writes(self._db)

    def _size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(STORE_FILE + "*"))

    def namespaces(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT namespace FROM documents ORDER BY 1")]

    def close(self) -> None:
        self._db.close()


class _SQLRecords:
    """The Records primitives (base.Records) in SQL, on one connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._search = PassageSearch(db)
        self.full_text = True  # whether the file has the full-text index (schema version 4)

    def get(self, kind: str, keys: Iterable[Key], fields: Sequence[str] | None = None) -> dict[Key, dict]:
        key = KEYS[kind]
        rows = self.find(kind, key[0] if len(key) == 1 else key, keys, returned=fields)
        return {record_key(kind, row): row for row in rows}

    def find(
        self,
        kind: str,
        field: str | tuple[str, ...],
        values: Collection,
        namespace: str | None = None,
        not_before: tuple[str, str] | None = None,
        returned: Sequence[str] | None = None,
    ) -> list[dict]:
        """Records.find; `returned`: only those fields (and the key's), for `get`."""
        fields = checked_fields(kind, field)
        names = fields_read(kind, returned)
        values = list(dict.fromkeys(values))  # a value given twice finds its records once
        found: list[dict] = []
        for chunk in _chunks(values, (_MAX_PARAMS - 2) // len(fields)):
            join, where, params = _in_namespace(kind, namespace)
            if not_before is not None:
                (bound,) = checked_fields(kind, not_before[0])
                where, params = f"{where} AND (t.{bound} IS NULL OR t.{bound} >= ?)", [*params, not_before[1]]
            if isinstance(field, str):
                query = (
                    f"SELECT {_columns(names)} FROM {TABLES[kind]} t {join} WHERE t.{field} IN "
                    f"({_placeholders(len(chunk))}){where}"
                )
                found += self._rows(names, query, [*chunk, *params])
                continue
            # a join on the value tuples, so that each is looked up in an index (IN on a row value scans)
            wanted = f"(VALUES {', '.join([_row_marks(len(fields))] * len(chunk))}) k"
            on = " AND ".join(f"t.{name} = k.column{number}" for number, name in enumerate(fields, 1))
            query = f"SELECT {_columns(names)} FROM {wanted} JOIN {TABLES[kind]} t ON {on} {join} WHERE 1{where}"
            found += self._rows(names, query, [*(v for value in chunk for v in value), *params])
        return found

    def scan(self, kind: str, namespace: str | None = None) -> Iterator[dict]:
        join, where, params = _in_namespace(kind, namespace)
        order = ", ".join(f"t.{field}" for field in KEYS[kind])
        return iter(
            self._rows(
                RECORDS[kind],
                f"SELECT {_columns(RECORDS[kind])} FROM {TABLES[kind]} t {join} WHERE 1{where} ORDER BY {order}",
                params,
            )
        )

    def rows(self, kind: str, fields: Sequence[str], namespace: str | None = None) -> Iterator[tuple]:
        checked_fields(kind, fields)
        join, where, params = _in_namespace(kind, namespace)
        if join and self._only_namespace(_NAMESPACE_OF[kind][0], namespace):
            join, where, params = "", "", []  # the join would keep every row: 10 million mentions took 3 times as long
        order = ", ".join(f"t.{field}" for field in KEYS[kind])
        columns = ", ".join(f"t.{field}" for field in fields)
        # the cursor, read as it is iterated: ten million rows held at once took gigabytes
        return self._db.execute(
            f"SELECT {columns} FROM {TABLES[kind]} t {join} WHERE 1{where} ORDER BY {order}", params
        )

    def tally(self, kind: str, field: str, values: Collection, at_most: int | None = None) -> dict:
        checked_fields(kind, field)
        counts: dict = {}
        for chunk in _chunks(list(values), _MAX_PARAMS - 1):
            if at_most is None:
                where = f"{field} IN ({_placeholders(len(chunk))})"
                query, params = f"SELECT {field}, COUNT(*) FROM {TABLES[kind]} WHERE {where} GROUP BY 1", chunk
            else:  # each value's count stops at at_most rows of the index
                wanted = f"(VALUES {', '.join(['(?)'] * len(chunk))}) k"
                capped = f"SELECT 1 FROM {TABLES[kind]} WHERE {field} = k.column1 LIMIT ?"
                query, params = f"SELECT k.column1, (SELECT COUNT(*) FROM ({capped})) FROM {wanted}", [at_most, *chunk]
            counts.update((value, count) for value, count in self._db.execute(query, params) if count)
        return counts

    def _only_namespace(self, table: str, namespace: str) -> bool:
        """Whether `table` holds rows of no other namespace."""
        other = f"SELECT 1 FROM {table} WHERE namespace < ? OR namespace > ? LIMIT 1"
        return self._db.execute(other, (namespace, namespace)).fetchone() is None

    def count(self, kind: str, namespace: str | None = None) -> int:
        join, where, params = _in_namespace(kind, namespace)
        return self._db.execute(f"SELECT COUNT(*) FROM {TABLES[kind]} t {join} WHERE 1{where}", params).fetchone()[0]

    def insert(self, kind: str, rows: list[dict]) -> None:
        if not rows:
            return
        fields = list(rows[0])
        try:
            self._db.executemany(
                f"INSERT INTO {TABLES[kind]} ({', '.join(fields)}) VALUES ({_placeholders(len(fields))})",
                [[row[field] for field in fields] for row in rows],
            )
        except sqlite3.IntegrityError as err:
            raise StoreError(f"{kind} records that do not fit the store ({err})") from None
        if kind == "passage":
            self._search.index([row["id"] for row in rows])

    def update(self, kind: str, changes: Mapping[Key, dict]) -> None:
        found_by = [key for key, values in changes.items() if {"title", "text", "times", "namespace"} & set(values)]
        if kind == "passage" and found_by:
            self._search.unindex(found_by)
        fields = KEYS[kind]
        by_columns: dict[tuple[str, ...], list] = {}
        for key, values in changes.items():
            key = (key,) if len(fields) == 1 else key
            by_columns.setdefault(tuple(values), []).append([*values.values(), *key])
        for columns, params in by_columns.items():
            self._db.executemany(
                f"UPDATE {TABLES[kind]} SET {', '.join(f'{c} = ?' for c in columns)} "
                f"WHERE {' AND '.join(f'{f} = ?' for f in fields)}",
                params,
            )
        if kind == "passage" and found_by:
            self._search.index(found_by)

    def delete(self, kind: str, keys: Iterable[Key]) -> None:
        fields = KEYS[kind]
        params = [[key] if len(fields) == 1 else list(key) for key in keys]
        if kind == "passage":
            self._search.unindex([key for (key,) in params])
        elif kind == "document":  # its passages go with it (the write algorithm deletes them first)
            self._search.unindex(
                [row["id"] for row in self.find("passage", ("namespace", "document_id"), map(tuple, params))]
            )
        self._db.executemany(f"DELETE FROM {TABLES[kind]} WHERE {' AND '.join(f'{f} = ?' for f in fields)}", params)

    def matching(
        self, namespace: str, terms: Sequence[str], limit: int, common: int | None
    ) -> list[tuple[str, float]] | None:
        return self._search.matching(namespace, terms, limit, common) if self.full_text else None

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> list[str] | None:
        return self._search.rare_terms(namespace, terms, at_most) if self.full_text else None

    def dated(self, namespace: str) -> list[tuple[str, str]]:
        return self._db.execute(
            "SELECT id, times FROM passages WHERE namespace = ? AND times != '[]'", (namespace,)
        ).fetchall()

    def meta(self, key: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table yet: a new file
            return None
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _rows(self, fields: Sequence[str], query: str, params: Sequence) -> list[dict]:
        return [dict(zip(fields, row)) for row in self._db.execute(query, params)]


def _columns(fields: Sequence[str]) -> str:
    return ", ".join(f"t.{field}" for field in fields)


def _row_marks(count: int) -> str:
    return f"({_placeholders(count)})"


def _in_namespace(kind: str, namespace: str | None) -> tuple[str, str, list]:
    """The join and condition that keep the rows of one namespace (none for None)."""
    if namespace is None:
        return "", "", []
    if kind in _NAMESPACE_OF:
        table, column = _NAMESPACE_OF[kind]
        return f"JOIN {table} n ON n.id = t.{column}", " AND n.namespace = ?", [namespace]
    if "namespace" not in RECORDS[kind]:
        raise ValueError(f"{kind} records belong to no namespace")
    return "", " AND t.namespace = ?", [namespace]
