"""The embedded store: one SQLite file (WAL), each write batch one transaction."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DocumentNotFound, ReadOnlyStore, StoreBusy, StoreError
from ..timestamps import now
from ..types import Change, Link, Note, Passage, Stats, StoredDocument, StoredFact
from .records import AttributeChange, GraphData, PassageRecord, WriteBatch, Written, stack_vectors
from .rules import NOTE_FIELDS, OTHER_VERSION_STORED, Touched, ends_of, history_value
from .transfer import RECORDS, Record, from_export, to_export

SCHEMA_VERSION = "3"
# Columns added since schema version 1, by table: what an upgrade adds to an older file.
_ADDED_COLUMNS = {
    "passages": {"extraction_error": "TEXT", "keywords": "TEXT NOT NULL DEFAULT '[]'",
                 "tags": "TEXT NOT NULL DEFAULT '[]'", "context": "TEXT NOT NULL DEFAULT ''", "updated_at": "TEXT"},
    "facts": {"relation_group": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT"},
}
STORE_FILE = "hippograph.sqlite"
_MAX_PARAMS = 900  # stay under SQLite's bound-parameter limit
_BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to finish
log = logging.getLogger(__name__)


def _chunks(items: Sequence, size: int = _MAX_PARAMS) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# What Stats counts, in the whole store (?1 NULL) or one namespace.
_IN_NAMESPACE = "?1 IS NULL OR namespace = ?1"
_COUNTS = {
    "documents": f"SELECT COUNT(*) FROM documents WHERE {_IN_NAMESPACE}",
    "passages": f"SELECT COUNT(*) FROM passages WHERE {_IN_NAMESPACE}",
    "entities": f"SELECT COUNT(*) FROM entities WHERE {_IN_NAMESPACE}",
    "facts": f"SELECT COUNT(*) FROM facts WHERE {_IN_NAMESPACE}",
    "mentions": f"SELECT COUNT(*) FROM mentions JOIN passages ON id = passage_id WHERE {_IN_NAMESPACE}",
    "synonym_edges": f"SELECT COUNT(*) FROM synonyms JOIN entities ON id = a WHERE {_IN_NAMESPACE}",
    "links": f"SELECT COUNT(*) FROM links JOIN passages ON id = a WHERE {_IN_NAMESPACE}",
    "embeddings": "SELECT COUNT(*) FROM embeddings WHERE ?1 IS NULL OR key IN (SELECT embedding_key FROM passages "
                  "WHERE namespace = ?1 UNION SELECT embedding_key FROM entities WHERE namespace = ?1 "
                  "UNION SELECT embedding_key FROM facts WHERE namespace = ?1)",
    "failed_extractions": f"SELECT COUNT(*) FROM passages WHERE extraction_error IS NOT NULL AND ({_IN_NAMESPACE})",
}
# Export record type -> (table, the order its rows are exported in).
_TABLES = {
    "embedding": ("embeddings", "key"), "document": ("documents", "namespace, id"), "passage": ("passages", "id"),
    "entity": ("entities", "id"), "mention": ("mentions", "passage_id, entity_id"), "fact": ("facts", "id"),
    "fact_source": ("fact_sources", "fact_id, passage_id"), "synonym": ("synonyms", "a, b"), "link": ("links", "a, b"),
    "note_change": ("note_history", "id"),
}
_PASSAGE_COLUMNS = "id, document_id, position, title, text, namespace, created_at"  # a Passage's fields


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class SQLiteStore:
    """A memory kept in `<folder>/hippograph.sqlite`; with `create`, a missing store is made.
    With `read_only` (or when the folder cannot be written) nothing is ever written to the
    folder, not even schema: a mounted snapshot or a shared folder can be queried."""

    def __init__(self, folder: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file; a store is a folder (it holds {STORE_FILE})")
        self.path = folder / STORE_FILE
        if (read_only or not create) and not self.path.exists():
            raise StoreError(f"no store at {folder}: ingest something into it first")
        if not read_only and self.path.exists() and not writable(folder):
            log.info("%s cannot be written: opening it read-only", folder)
            read_only = True
        self.read_only = read_only
        try:
            if read_only:
                self._db = _connect_read_only(self.path)
                self._check_schema()
                return
            folder.mkdir(parents=True, exist_ok=True)
            self._db = _connect(str(self.path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open {self.path} as a hippograph store: {err}") from None

    def _check_schema(self) -> None:
        version = self._meta("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}; this hippograph reads {SCHEMA_VERSION} "
                             "and cannot upgrade a store opened read-only: open it once writable")

    def _create_schema(self) -> None:
        version = self._meta("schema_version")
        if version is not None and version not in (SCHEMA_VERSION, "1", "2"):
            raise StoreError(f"{self.path} has schema version {version}; this hippograph reads {SCHEMA_VERSION}")
        if version in ("1", "2"):
            self._upgrade()
        schema = resources.files("hippograph.store").joinpath("schema.sql").read_text()
        self._db.executescript(schema)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0')")

    def _upgrade(self) -> None:
        """Add the columns of later schema versions (the new tables come with the schema script),
        in one write transaction that re-checks under the lock (another process may be
        upgrading the same file). Facts get their validity from their notes' times."""
        with self._transaction():
            if self._meta("schema_version") == SCHEMA_VERSION:
                return
            for table, added in _ADDED_COLUMNS.items():
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column, kind in added.items():
                    if column not in columns:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._set_valid_from([r[0] for r in self._db.execute("SELECT id FROM facts")])
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    def _meta(self, key: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table yet: a new file
            return None
        return row[0] if row else None

    # -- reads ---------------------------------------------------------------

    def version(self) -> int:
        return int(self._meta("version") or 0)

    def embedding_model(self) -> str | None:
        return self._meta("embedding_model")

    def document_hashes(self, namespace: str, ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(ids)):
            rows = self._db.execute(
                f"SELECT id, content_hash FROM documents WHERE namespace = ? AND id IN ({_placeholders(len(chunk))})",
                (namespace, *chunk),
            )
            found.update(rows)
        return found

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self._db.execute(
                f"SELECT key, vector FROM embeddings WHERE key IN ({_placeholders(len(chunk))})", chunk)
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def entity_names(self, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = self._db.execute(
                f"SELECT id, name, embedding_key FROM entities WHERE id IN ({_placeholders(len(chunk))})", chunk)
            found.update((entity_id, (name, key)) for entity_id, name, key in rows)
        return found

    def entity_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._vectors_of("entities", namespace)

    def passage_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._vectors_of("passages", namespace)

    def _vectors_of(self, table: str, namespace: str) -> tuple[list[str], np.ndarray]:
        rows = self._db.execute(
            f"SELECT r.id, v.vector FROM {table} r JOIN embeddings v ON v.key = r.embedding_key "
            "WHERE r.namespace = ? ORDER BY r.id",
            (namespace,),
        ).fetchall()
        ids = [r[0] for r in rows]
        return ids, stack_vectors([r[1] for r in rows], ids=[f"{table[:-1]} {i}" for i in ids])

    def entity_passage_counts(self, ids: Iterable[str]) -> dict[str, int]:
        """How many stored passages mention each of the entities among `ids` (absent: none)."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(ids))):
            found.update(self._db.execute(
                f"SELECT entity_id, COUNT(*) FROM mentions WHERE entity_id IN ({_placeholders(len(chunk))}) "
                "GROUP BY entity_id", chunk))
        return found

    def passages_mentioning(self, namespace: str, entity_id: str, limit: int) -> list[str]:
        rows = self._db.execute(
            "SELECT p.id FROM mentions m JOIN passages p ON p.id = m.passage_id WHERE m.entity_id = ? "
            "AND p.namespace = ? ORDER BY p.created_at DESC, p.id LIMIT ?", (entity_id, namespace, limit))
        return [row[0] for row in rows]

    def document(self, namespace: str, document_id: str) -> StoredDocument:
        row = self._db.execute(
            "SELECT id, title, source, metadata, content_hash FROM documents WHERE namespace = ? AND id = ?",
            (namespace, document_id),
        ).fetchone()
        if row is None:
            raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
        passage_ids = self._db.execute(
            "SELECT id FROM passages WHERE namespace = ? AND document_id = ? ORDER BY position",
            (namespace, document_id),
        )
        return StoredDocument(
            id=row[0], title=row[1], source=row[2], metadata=json.loads(row[3]), content_hash=row[4],
            passage_ids=tuple(r[0] for r in passage_ids), namespace=namespace,
        )

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        found: dict[str, Passage] = {}
        for chunk in _chunks(list(ids)):
            rows = self._db.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({_placeholders(len(chunk))})", chunk)
            found.update((row[0], Passage(*row)) for row in rows)
        return found

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        """Passages whose extraction failed, each with the extractor that failed, in one
        namespace or all, in id order."""
        rows = self._db.execute(
            f"SELECT {_PASSAGE_COLUMNS}, extractor FROM passages "
            "WHERE extraction_error IS NOT NULL AND (?1 IS NULL OR namespace = ?1) ORDER BY id",
            (namespace,),
        )
        return [(Passage(*row[:7]), row[7]) for row in rows]

    def notes(self, namespace: str, ids: Iterable[str]) -> dict[str, Note]:
        """The notes of `namespace` among `ids`, with their links (ids of other namespaces are
        not found)."""
        found: dict[str, Note] = {}
        for chunk in _chunks(list(ids)):
            marks = _placeholders(len(chunk))
            links: dict[str, list[Link]] = {}
            for a, b, kind, reason, weight in self._db.execute(
                    f"SELECT a, b, kind, reason, weight FROM links WHERE a IN ({marks}) "
                    f"UNION SELECT a, b, kind, reason, weight FROM links WHERE b IN ({marks}) ORDER BY 1, 2",
                    (*chunk, *chunk)):
                links.setdefault(a, []).append(Link(b, kind, reason, weight))
                links.setdefault(b, []).append(Link(a, kind, reason, weight))
            rows = self._db.execute(
                "SELECT p.id, p.namespace, p.document_id, p.text, p.title, p.keywords, p.tags, p.context, "
                "p.created_at, p.updated_at, d.metadata FROM passages p "
                "JOIN documents d ON d.namespace = p.namespace AND d.id = p.document_id "
                f"WHERE p.namespace = ? AND p.id IN ({marks})",
                (namespace, *chunk),
            )
            for row in rows:
                found[row[0]] = Note(
                    *row[:5], keywords=tuple(json.loads(row[5])), tags=tuple(json.loads(row[6])), context=row[7],
                    created_at=row[8], updated_at=row[9], links=tuple(links.get(row[0], ())),
                    metadata=json.loads(row[10]))
        return found

    def history(self, namespace: str, passage_id: str) -> list[Change]:
        """Every recorded change of a note of `namespace`, oldest first."""
        return self._changes(namespace, "h.passage_id = ?", passage_id)

    def change(self, namespace: str, change_id: int) -> Change:
        """One recorded change of a note of `namespace`."""
        found = self._changes(namespace, "h.id = ?", change_id)
        if not found:
            raise DocumentNotFound(f"no change {change_id!r} of a note in namespace {namespace!r}")
        return found[0]

    def _changes(self, namespace: str, condition: str, value: str | int) -> list[Change]:
        rows = self._db.execute(
            "SELECT h.id, h.passage_id, h.field, h.old_value, h.new_value, h.changed_by, h.source_note, h.changed_at "
            f"FROM note_history h JOIN passages p ON p.id = h.passage_id WHERE p.namespace = ? AND {condition} "
            "ORDER BY h.id",
            (namespace, value),
        )
        return [Change(r[0], r[1], r[2], history_value(r[3]), history_value(r[4]), *r[5:]) for r in rows]

    def namespaces(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT namespace FROM documents ORDER BY 1")]

    def facts(self, namespace: str, subject_ids: Iterable[str] | None = None) -> list[StoredFact]:
        """The facts of `namespace` (only those about `subject_ids` when given), in id order."""
        subjects = None if subject_ids is None else json.dumps(sorted(set(subject_ids)))
        rows = self._db.execute(
            "SELECT f.id, s.name, f.relation, o.name, f.valid_from, f.valid_to, "
            "(SELECT json_group_array(passage_id) FROM (SELECT passage_id FROM fact_sources "
            " WHERE fact_id = f.id ORDER BY passage_id)) "
            "FROM facts f JOIN entities s ON s.id = f.subject_id JOIN entities o ON o.id = f.object_id "
            "WHERE f.namespace = ?1 AND (?2 IS NULL OR f.subject_id IN (SELECT value FROM json_each(?2))) "
            "ORDER BY f.id",
            (namespace, subjects),
        )
        return [StoredFact(*r[1:6], note_ids=tuple(json.loads(r[6]))) for r in rows]

    def graph_data(self, namespace: str) -> GraphData:
        with self._transaction(write=False):  # one snapshot, even while another process writes
            return self._graph_data(namespace)

    def _graph_data(self, namespace: str) -> GraphData:
        db = self._db
        entities = db.execute("SELECT id, name FROM entities WHERE namespace = ? ORDER BY id", (namespace,)).fetchall()
        passages = db.execute(
            "SELECT p.id, v.vector, p.title, p.created_at FROM passages p JOIN embeddings v ON v.key = p.embedding_key "
            "WHERE p.namespace = ? ORDER BY p.id",
            (namespace,),
        ).fetchall()
        facts = db.execute(
            "SELECT f.subject_id, f.object_id, f.relation, v.vector, f.valid_from, f.valid_to FROM facts f "
            "LEFT JOIN embeddings v ON v.key = f.embedding_key WHERE f.namespace = ? ORDER BY f.id",
            (namespace,),
        ).fetchall()
        mentions = db.execute(
            "SELECT m.passage_id, m.entity_id FROM mentions m JOIN passages p ON p.id = m.passage_id "
            "WHERE p.namespace = ? ORDER BY m.passage_id, m.entity_id",
            (namespace,),
        ).fetchall()
        synonyms = db.execute(
            "SELECT s.a, s.b, s.weight FROM synonyms s JOIN entities e ON e.id = s.a "
            "WHERE e.namespace = ? ORDER BY s.a, s.b",
            (namespace,),
        ).fetchall()
        links = db.execute(
            "SELECT l.a, l.b, l.weight, l.kind FROM links l JOIN passages p ON p.id = l.a "
            "WHERE p.namespace = ? ORDER BY l.a, l.b",
            (namespace,),
        ).fetchall()
        return GraphData.from_rows(self.version(), entities, passages, facts, mentions, synonyms, links)

    def stats(self, namespace: str | None = None) -> Stats:
        """Counts of the whole store, or of one namespace (`embeddings` then counts the vectors
        its records use; `size_bytes` is always the file's)."""
        counts = {name: self._db.execute(sql, (namespace,)).fetchone()[0] for name, sql in _COUNTS.items()}
        size = sum(p.stat().st_size for p in self.path.parent.glob(STORE_FILE + "*"))
        return Stats(**counts, path=str(self.path), size_bytes=size)

    # -- writes --------------------------------------------------------------

    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        with self._transaction():
            self._check_embedding_model(embedding_model)
            entities_before, facts_before = self._totals()
            removed: list[str] = []
            touched = Touched()
            for namespace, document_id in batch.replaces:
                removed += self._delete_document(namespace, document_id, touched)
            stored = [r.passage.id for r in batch.passages if batch.retried or r.passage.id in batch.refreshes]
            if stored and not all(self._exists("passages", passage_id) for passage_id in stored):
                raise StoreError("a note was deleted or replaced while it was extracted again; nothing of this "
                                 "batch was written, run it again")
            removed += self._clear_passages(batch.refreshes, touched)
            self._insert(batch)
            self._apply_changes(batch.changes)
            touched.facts |= {f.id for f in batch.facts}
            self._refresh_validity(touched)
            if batch.replaces or batch.refreshes:
                self._delete_unused_embeddings()
            entities, facts = self._totals()
            return Written([entity for entity in removed if not self._exists("entities", entity)],
                           entities - entities_before, facts - facts_before)

    def _totals(self) -> tuple[int, int]:
        """Entities and facts in the whole store."""
        return self._db.execute("SELECT (SELECT COUNT(*) FROM entities), (SELECT COUNT(*) FROM facts)").fetchone()

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        with self._transaction():
            touched = Touched()
            removed = self._delete_document(namespace, document_id, touched)
            self._refresh_validity(touched)
            self._delete_unused_embeddings()
        return removed

    def delete_namespace(self, namespace: str) -> int:
        """Delete everything of a namespace in one transaction; return how many documents it held."""
        with self._transaction():
            db = self._db
            documents = db.execute("SELECT COUNT(*) FROM documents WHERE namespace = ?", (namespace,)).fetchone()[0]
            # Cascades remove passages, mentions, fact sources, links and history; synonyms go with entities.
            db.execute("DELETE FROM documents WHERE namespace = ?", (namespace,))
            db.execute("DELETE FROM facts WHERE namespace = ?", (namespace,))
            db.execute("DELETE FROM entities WHERE namespace = ?", (namespace,))
            self._delete_unused_embeddings()
        return documents

    def revert(self, namespace: str, change_id: int) -> Change:
        """Put back the value a recorded attribute change replaced, recording that as a change;
        refused when the attribute changed again since."""
        with self._transaction():
            change = self.change(namespace, change_id)
            if change.field not in NOTE_FIELDS:
                raise StoreError(f"change {change_id} is a text change; revert it by updating the note's text")
            if self._attribute(change.note_id, change.field) != change.new:
                raise StoreError(f"the {change.field} of note {change.note_id} changed again after change "
                                 f"{change_id}; revert the later changes first")
            self._apply_changes([AttributeChange(change.note_id, change.field, change.old, "revert")])
            return self.history(namespace, change.note_id)[-1]

    def _attribute(self, passage_id: str, field: str) -> tuple[str, ...] | str:
        """A note attribute as AttributeChange holds it: keywords and tags as tuples."""
        value = self._db.execute(f"SELECT {field} FROM passages WHERE id = ?", (passage_id,)).fetchone()[0]
        return value if field == "context" else tuple(json.loads(value))

    def records(self) -> Iterator[Record]:
        """Every record, in the export format (see transfer.py), in a stable order."""
        for kind, fields in RECORDS.items():
            table, order = _TABLES[kind]
            for row in self._db.execute(f"SELECT {', '.join(fields)} FROM {table} ORDER BY {order}"):
                yield kind, to_export(kind, dict(zip(fields, row)))

    def load(self, embedding_model: str | None, records: Iterable[Record]) -> None:
        """Write exported records into this store, which must be empty, in one transaction."""
        with self._transaction():
            if self._db.execute("SELECT EXISTS (SELECT 1 FROM documents) OR EXISTS (SELECT 1 FROM embeddings)").fetchone()[0]:
                raise StoreError(f"{self.path} is not empty; import into a new store")
            if embedding_model is not None:
                self._check_embedding_model(embedding_model)
            try:
                for kind, values in records:
                    self._load_one(kind, values)
            except (ValueError, TypeError, sqlite3.IntegrityError) as err:
                raise StoreError(f"the export does not fit together ({err}); nothing was imported") from None

    def _load_one(self, kind: str, values: dict) -> None:
        row = from_export(kind, values)
        fields = RECORDS[kind]
        self._db.execute(f"INSERT INTO {_TABLES[kind][0]} ({', '.join(fields)}) VALUES ({_placeholders(len(fields))})",
                         [row[name] for name in fields])

    def close(self) -> None:
        self._db.close()

    def _transaction(self, write: bool = True) -> _Transaction:
        if write and self.read_only:
            raise ReadOnlyStore(f"{self.path} is open read-only; nothing was written")
        return _Transaction(self._db, self.path, write)

    def _check_embedding_model(self, embedding_model: str) -> None:
        stored = self._meta("embedding_model")
        if stored is None:
            self._db.execute("INSERT INTO meta VALUES ('embedding_model', ?)", (embedding_model,))
        elif stored != embedding_model:
            raise StoreError(
                f"{self.path} holds vectors of embedding model {stored!r}, not {embedding_model!r}; "
                "open it with the same model or ingest into a new store"
            )

    def _insert(self, batch: WriteBatch) -> None:
        db = self._db
        time = now()
        db.executemany(
            "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
            ((key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in batch.embeddings.items()),
        )
        for document, digest in batch.documents:
            stored = db.execute("SELECT content_hash FROM documents WHERE namespace = ? AND id = ?",
                                (document.namespace, document.id)).fetchone()
            if stored is not None and stored[0] != digest:
                raise StoreError(OTHER_VERSION_STORED)
        db.executemany(  # the same document stored by another writer meanwhile: a no-op
            "INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((d.namespace, d.id, d.title, d.source, json.dumps(d.metadata, sort_keys=True), digest, time)
             for d, digest in batch.documents),
        )
        db.executemany(
            "UPDATE documents SET title = ?, metadata = ?, content_hash = ? WHERE namespace = ? AND id = ?",
            ((d.title, json.dumps(d.metadata, sort_keys=True), digest, d.namespace, d.id)
             for d, digest in batch.document_updates),
        )
        refreshed = set(batch.refreshes)
        self._record_refreshes([r for r in batch.passages if r.passage.id in refreshed], time)
        db.executemany(  # a passage written again keeps its row and time; see WriteBatch
            "INSERT INTO passages (id, namespace, document_id, position, title, text, embedding_key, extractor, "
            "created_at, extraction_error, keywords, tags, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET title = excluded.title, text = excluded.text, "
            "embedding_key = excluded.embedding_key, extractor = excluded.extractor, "
            "extraction_error = excluded.extraction_error, keywords = excluded.keywords, tags = excluded.tags, "
            "context = excluded.context",
            ((r.passage.id, r.passage.namespace, r.passage.document_id, r.passage.position, r.passage.title,
              r.passage.text, r.embedding_key, r.extractor, r.passage.time or time, r.error,
              json.dumps(r.attributes.keywords), json.dumps(r.attributes.tags), r.attributes.context)
             for r in batch.passages),
        )
        db.executemany(
            "INSERT INTO entities VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET embedding_key = COALESCE(entities.embedding_key, excluded.embedding_key)",
            ((e.id, e.namespace, e.key, e.name, e.embedding_key) for e in batch.entities),
        )
        db.executemany("INSERT OR IGNORE INTO mentions VALUES (?, ?)", batch.mentions)
        db.executemany(
            "INSERT OR IGNORE INTO facts (id, namespace, subject_id, relation, object_id, embedding_key, "
            "relation_group) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((f.id, f.namespace, f.subject_id, f.relation, f.object_id, f.embedding_key, f.relation_group)
             for f in batch.facts),
        )
        db.executemany("INSERT OR IGNORE INTO fact_sources VALUES (?, ?)", batch.fact_sources)
        db.executemany(  # an edge to an entity that a replaced document took away is dropped
            "INSERT OR IGNORE INTO synonyms SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?1) "
            "AND EXISTS (SELECT 1 FROM entities WHERE id = ?2)",
            batch.synonyms,
        )
        db.executemany(  # a link to a note that a replaced document took away is dropped
            "INSERT INTO links SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?1) "
            "AND EXISTS (SELECT 1 FROM passages WHERE id = ?2) "
            "ON CONFLICT (a, b) DO UPDATE SET kind = excluded.kind, reason = excluded.reason, weight = excluded.weight",
            ((link.a, link.b, link.kind, link.reason, link.weight, time) for link in batch.links),
        )

    def _record_refreshes(self, records: list[PassageRecord], time: str) -> None:
        """History rows for the text and attributes an update changes, and its update time."""
        for record in records:
            passage_id = record.passage.id
            old_text = self._db.execute("SELECT text FROM passages WHERE id = ?", (passage_id,)).fetchone()[0]
            old_values = (old_text, *(self._attribute(passage_id, field) for field in NOTE_FIELDS))
            attributes = record.attributes
            new_values = (record.passage.text, attributes.keywords, attributes.tags, attributes.context)
            for field, before, after in zip(("text", *NOTE_FIELDS), old_values, new_values):
                if before != after:
                    self._record_change(passage_id, field, before, after, "update", None, time)
            self._db.execute("UPDATE passages SET updated_at = ? WHERE id = ?", (time, passage_id))

    def _apply_changes(self, changes: list[AttributeChange]) -> None:
        """Set evolved (or reverted) note attributes, keeping each old value in the note's history."""
        time = now()
        for change in changes:
            if change.field not in NOTE_FIELDS:
                raise StoreError(f"a note has no attribute {change.field!r}; use one of {', '.join(NOTE_FIELDS)}")
            if not self._exists("passages", change.passage_id):  # it went away in this batch (a replaced document)
                continue
            before = self._attribute(change.passage_id, change.field)
            after = change.value if change.field == "context" else tuple(change.value)
            if before == after:
                continue
            stored = after if change.field == "context" else json.dumps(after)
            self._db.execute(f"UPDATE passages SET {change.field} = ?, updated_at = ? WHERE id = ?",
                             (stored, time, change.passage_id))
            self._record_change(change.passage_id, change.field, before, after, change.changed_by,
                                change.source_note, time)

    def _record_change(self, passage_id: str, field: str, before, after, changed_by: str, source_note: str | None,
                       time: str) -> None:
        self._db.execute(
            "INSERT INTO note_history (passage_id, field, old_value, new_value, changed_by, source_note, changed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (passage_id, field, json.dumps(before), json.dumps(after), changed_by, source_note, time),
        )

    def _clear_passages(self, passage_ids: list[str], touched: Touched) -> list[str]:
        """Remove the mentions, fact sources and links of passages about to get a new text, and
        the facts and entities nothing else supports; return the removed entity ids."""
        db = self._db
        entity_ids, fact_ids = self._graph_records_of(passage_ids, touched)
        for chunk in _chunks(passage_ids):
            marks = _placeholders(len(chunk))
            db.execute(f"DELETE FROM mentions WHERE passage_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM fact_sources WHERE passage_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM links WHERE a IN ({marks}) OR b IN ({marks})", (*chunk, *chunk))
        return self._delete_unsupported(entity_ids, fact_ids)

    def _delete_document(self, namespace: str, document_id: str, touched: Touched) -> list[str]:
        """Delete a document, its passages, and the facts and entities nothing else supports."""
        db = self._db
        if not self._exists_document(namespace, document_id):
            raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
        passage_ids = [r[0] for r in db.execute(
            "SELECT id FROM passages WHERE namespace = ? AND document_id = ?", (namespace, document_id))]
        entity_ids, fact_ids = self._graph_records_of(passage_ids, touched)
        # Cascades remove the passages' mentions, fact sources, links and history.
        db.execute("DELETE FROM documents WHERE namespace = ? AND id = ?", (namespace, document_id))
        return self._delete_unsupported(entity_ids, fact_ids)

    def _graph_records_of(self, passage_ids: list[str], touched: Touched) -> tuple[set[str], set[str]]:
        """The entities the passages mention and the facts they state (noted in `touched`, with
        their exclusive groups, before anything is deleted)."""
        entity_ids: set[str] = set()
        fact_ids: set[str] = set()
        for chunk in _chunks(passage_ids):
            marks = _placeholders(len(chunk))
            entity_ids.update(r[0] for r in self._db.execute(
                f"SELECT entity_id FROM mentions WHERE passage_id IN ({marks})", chunk))
            fact_ids.update(r[0] for r in self._db.execute(
                f"SELECT fact_id FROM fact_sources WHERE passage_id IN ({marks})", chunk))
        touched.facts |= fact_ids
        touched.groups |= self._groups_of(fact_ids)
        return entity_ids, fact_ids

    def _delete_unsupported(self, entity_ids: set[str], fact_ids: set[str]) -> list[str]:
        """Delete the facts no passage states any more, then the entities nothing refers to;
        return the removed entity ids."""
        db = self._db
        for chunk in _chunks(sorted(fact_ids)):
            db.execute(
                f"DELETE FROM facts WHERE id IN ({_placeholders(len(chunk))}) "
                "AND NOT EXISTS (SELECT 1 FROM fact_sources s WHERE s.fact_id = facts.id)",
                chunk,
            )
        removed: list[str] = []
        for chunk in _chunks(sorted(entity_ids)):
            rows = db.execute(
                f"DELETE FROM entities WHERE id IN ({_placeholders(len(chunk))}) "
                "AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.entity_id = entities.id) "
                "AND NOT EXISTS (SELECT 1 FROM facts f WHERE f.subject_id = entities.id OR f.object_id = entities.id) "
                "RETURNING id",
                chunk,
            )
            removed.extend(r[0] for r in rows)
        return removed

    def _groups_of(self, fact_ids: set[str]) -> set[tuple[str, str]]:
        """The (subject, relation group) pairs of the exclusive facts among `fact_ids`."""
        groups: set[tuple[str, str]] = set()
        for chunk in _chunks(sorted(fact_ids)):
            groups.update(self._db.execute(
                f"SELECT subject_id, relation_group FROM facts WHERE id IN ({_placeholders(len(chunk))}) "
                "AND relation_group IS NOT NULL", chunk))
        return groups

    def _refresh_validity(self, touched: Touched) -> None:
        """Work out again when the touched facts (and the exclusive facts that share a subject
        and relation group with them) hold: from the earliest note stating one, until a later
        fact of its group names another object."""
        self._set_valid_from(sorted(touched.facts))
        for subject_id, group in sorted(touched.groups | self._groups_of(touched.facts)):
            rows = self._db.execute(
                "SELECT id, object_id, valid_from FROM facts WHERE subject_id = ? AND relation_group = ? "
                "ORDER BY valid_from, id", (subject_id, group)).fetchall()
            self._db.executemany("UPDATE facts SET valid_to = ? WHERE id = ?",
                                 [(valid_to, fact_id) for fact_id, valid_to in ends_of(rows)])

    def _set_valid_from(self, fact_ids: list[str]) -> None:
        for chunk in _chunks(fact_ids):
            self._db.execute(
                "UPDATE facts SET valid_from = (SELECT MIN(p.created_at) FROM fact_sources s "
                "JOIN passages p ON p.id = s.passage_id WHERE s.fact_id = facts.id) "
                f"WHERE id IN ({_placeholders(len(chunk))})", chunk)

    def _delete_unused_embeddings(self) -> None:
        self._db.execute(
            "DELETE FROM embeddings WHERE key NOT IN (SELECT embedding_key FROM passages) "
            "AND key NOT IN (SELECT embedding_key FROM entities WHERE embedding_key IS NOT NULL) "
            "AND key NOT IN (SELECT embedding_key FROM facts)"
        )

    def _exists_document(self, namespace: str, document_id: str) -> bool:
        return self._db.execute(
            "SELECT 1 FROM documents WHERE namespace = ? AND id = ?", (namespace, document_id)
        ).fetchone() is not None

    def _exists(self, table: str, record_id: str) -> bool:
        return self._db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (record_id,)).fetchone() is not None


def writable(folder: Path) -> bool:
    """Whether this process may write the folder and the store file in it (False on a
    read-only file system too, also for root)."""
    store = folder / STORE_FILE
    return os.access(folder, os.W_OK) and (not store.exists() or os.access(store, os.W_OK))


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    # A connection may move between threads (a server's pool lends it to one at a time).
    db = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A WAL store needs its -shm file to be readable by a
    read-only connection, and SQLite cannot make one in a folder it may not write: there the
    file is opened as immutable (no process can change it on such a folder anyway)."""
    location = f"file:{_quote_uri(path.resolve())}"
    db = _connect(f"{location}?mode=ro", uri=True)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        if writable(path.parent):
            raise
    log.info("%s: no shared-memory file and the folder cannot be written; reading the file as immutable", path)
    return _connect(f"{location}?immutable=1", uri=True)


def _quote_uri(path: Path) -> str:
    return urllib.parse.quote(str(path), safe="/")


class _Transaction:
    """BEGIN … COMMIT, or ROLLBACK on any error. A write transaction (`write=True`) bumps the
    store version on commit; SQLite's own errors become a StoreError saying what to do."""

    def __init__(self, db: sqlite3.Connection, path: Path, write: bool) -> None:
        self._db = db
        self._path = path
        self._write = write

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.OperationalError as err:
            raise StoreBusy(f"{self._path} is busy ({err}); another process is writing, try again") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                if self._write:
                    self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as err:
                self._rollback()
                raise StoreError(f"could not commit to {self._path}: {err}; nothing of this batch was stored") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"{self._path}: {exc}; nothing of this batch was stored") from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
