"""The embedded store: one SQLite file (WAL), each write batch one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DocumentNotFound, StoreError
from ..types import Passage, Stats, StoredDocument
from .records import GraphData, WriteBatch

SCHEMA_VERSION = "2"
STORE_FILE = "hippograph.sqlite"
_MAX_PARAMS = 900  # stay under SQLite's bound-parameter limit
_BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to finish


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _chunks(items: Sequence, size: int = _MAX_PARAMS) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class SQLiteStore:
    """A memory kept in `<folder>/hippograph.sqlite`; with `create`, a missing store is made."""

    def __init__(self, folder: str | Path, *, create: bool = True) -> None:
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file; a store is a folder (it holds {STORE_FILE})")
        self.path = folder / STORE_FILE
        if not create and not self.path.exists():
            raise StoreError(f"no store at {folder}: ingest something into it first")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open {self.path} as a hippograph store: {err}") from None

    def _create_schema(self) -> None:
        version = self._meta("schema_version")
        if version is not None and version not in (SCHEMA_VERSION, "1"):
            raise StoreError(f"{self.path} has schema version {version}; this hippograph reads {SCHEMA_VERSION}")
        if version == "1":
            self._upgrade_from_1()
        schema = resources.files("hippograph.store").joinpath("schema.sql").read_text()
        self._db.executescript(schema)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0')")

    def _upgrade_from_1(self) -> None:
        """Add passages.extraction_error, in one write transaction that re-checks under the lock
        (another process may be upgrading the same file)."""
        with self._transaction():
            if self._meta("schema_version") == "1":
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(passages)")}
                if "extraction_error" not in columns:
                    self._db.execute("ALTER TABLE passages ADD COLUMN extraction_error TEXT")
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
        rows = self._db.execute(
            "SELECT e.id, v.vector FROM entities e JOIN embeddings v ON v.key = e.embedding_key "
            "WHERE e.namespace = ? ORDER BY e.id",
            (namespace,),
        ).fetchall()
        return [r[0] for r in rows], _stack([r[1] for r in rows])

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
                "SELECT id, document_id, position, title, text, namespace FROM passages "
                f"WHERE id IN ({_placeholders(len(chunk))})",
                chunk,
            )
            found.update((row[0], Passage(*row)) for row in rows)
        return found

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        """Passages whose extraction failed, each with the extractor that failed, in one
        namespace or all, in id order."""
        rows = self._db.execute(
            "SELECT id, document_id, position, title, text, namespace, extractor FROM passages "
            "WHERE extraction_error IS NOT NULL AND (?1 IS NULL OR namespace = ?1) ORDER BY id",
            (namespace,),
        )
        return [(Passage(*row[:6]), row[6]) for row in rows]

    def graph_data(self, namespace: str) -> GraphData:
        with self._transaction(write=False):  # one snapshot, even while another process writes
            return self._graph_data(namespace)

    def _graph_data(self, namespace: str) -> GraphData:
        db = self._db
        entities = db.execute("SELECT id, name FROM entities WHERE namespace = ? ORDER BY id", (namespace,)).fetchall()
        entity_index = {entity_id: i for i, (entity_id, _) in enumerate(entities)}
        passages = db.execute(
            "SELECT p.id, v.vector, p.title FROM passages p JOIN embeddings v ON v.key = p.embedding_key "
            "WHERE p.namespace = ? ORDER BY p.id",
            (namespace,),
        ).fetchall()
        passage_index = {row[0]: i for i, row in enumerate(passages)}
        facts = db.execute(
            "SELECT f.subject_id, f.object_id, f.relation, v.vector FROM facts f "
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
        passage_vectors = _stack([p[1] for p in passages])
        dimension = passage_vectors.shape[1]
        return GraphData(
            version=self.version(),
            entity_ids=[e[0] for e in entities],
            entity_names=[e[1] for e in entities],
            passage_ids=[p[0] for p in passages],
            passage_titles=[p[2] for p in passages],
            passage_vectors=passage_vectors,
            fact_subjects=np.array([entity_index[f[0]] for f in facts], dtype=np.int64),
            fact_objects=np.array([entity_index[f[1]] for f in facts], dtype=np.int64),
            fact_relations=[f[2] for f in facts],
            fact_vectors=_stack([f[3] for f in facts], dimension),
            fact_has_vector=np.array([f[3] is not None for f in facts], dtype=bool),
            mention_passages=np.array([passage_index[m[0]] for m in mentions], dtype=np.int64),
            mention_entities=np.array([entity_index[m[1]] for m in mentions], dtype=np.int64),
            synonym_a=np.array([entity_index[s[0]] for s in synonyms], dtype=np.int64),
            synonym_b=np.array([entity_index[s[1]] for s in synonyms], dtype=np.int64),
            synonym_weights=np.array([s[2] for s in synonyms], dtype=np.float64),
        )

    def stats(self) -> Stats:
        def count(table: str) -> int:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

        size = sum(p.stat().st_size for p in self.path.parent.glob(STORE_FILE + "*"))
        return Stats(
            documents=count("documents"), passages=count("passages"), entities=count("entities"),
            facts=count("facts"), mentions=count("mentions"), synonym_edges=count("synonyms"),
            embeddings=count("embeddings"), path=str(self.path), size_bytes=size,
            failed_extractions=self._db.execute(
                "SELECT COUNT(*) FROM passages WHERE extraction_error IS NOT NULL").fetchone()[0],
        )

    # -- writes --------------------------------------------------------------

    def write(self, batch: WriteBatch, embedding_model: str) -> list[str]:
        with self._transaction():
            self._check_embedding_model(embedding_model)
            removed: list[str] = []
            for namespace, document_id in batch.replaces:
                removed += self._delete_document(namespace, document_id, collect_embeddings=False)
            if batch.retried and not all(self._exists("passages", p.id) for p, *_ in batch.passages):
                raise StoreError("a document was deleted or replaced while its failed passages were extracted "
                                 "again; nothing of this batch was written, run the retry again")
            self._insert(batch)
            if batch.replaces:
                self._delete_unused_embeddings()
            return [entity for entity in removed if not self._exists("entities", entity)]

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        with self._transaction():
            removed = self._delete_document(namespace, document_id, collect_embeddings=True)
        return removed

    def close(self) -> None:
        self._db.close()

    def _transaction(self, write: bool = True) -> _Transaction:
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
        now = _now()
        db.executemany(
            "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
            ((key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in batch.embeddings.items()),
        )
        db.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((d.namespace, d.id, d.title, d.source, json.dumps(d.metadata, sort_keys=True), digest, now)
             for d, digest in batch.documents),
        )
        db.executemany(  # a passage written again (a retried extraction) keeps its row and time
            "INSERT INTO passages (id, namespace, document_id, position, title, text, embedding_key, extractor, "
            "created_at, extraction_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET extractor = excluded.extractor, extraction_error = excluded.extraction_error",
            ((p.id, p.namespace, p.document_id, p.position, p.title, p.text, key, extractor, now, error)
             for p, key, extractor, error in batch.passages),
        )
        db.executemany(
            "INSERT INTO entities VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET embedding_key = COALESCE(entities.embedding_key, excluded.embedding_key)",
            ((e.id, e.namespace, e.key, e.name, e.embedding_key) for e in batch.entities),
        )
        db.executemany("INSERT OR IGNORE INTO mentions VALUES (?, ?)", batch.mentions)
        db.executemany(
            "INSERT OR IGNORE INTO facts VALUES (?, ?, ?, ?, ?, ?)",
            ((f.id, f.namespace, f.subject_id, f.relation, f.object_id, f.embedding_key) for f in batch.facts),
        )
        db.executemany("INSERT OR IGNORE INTO fact_sources VALUES (?, ?)", batch.fact_sources)
        db.executemany(  # an edge to an entity that a replaced document took away is dropped
            "INSERT OR IGNORE INTO synonyms SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?1) "
            "AND EXISTS (SELECT 1 FROM entities WHERE id = ?2)",
            batch.synonyms,
        )

    def _delete_document(self, namespace: str, document_id: str, collect_embeddings: bool) -> list[str]:
        """Delete a document, its passages, and the facts and entities nothing else supports."""
        db = self._db
        if not self._exists_document(namespace, document_id):
            raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
        passage_ids = [r[0] for r in db.execute(
            "SELECT id FROM passages WHERE namespace = ? AND document_id = ?", (namespace, document_id))]
        entity_ids: set[str] = set()
        fact_ids: set[str] = set()
        for chunk in _chunks(passage_ids):
            marks = _placeholders(len(chunk))
            entity_ids.update(r[0] for r in db.execute(
                f"SELECT entity_id FROM mentions WHERE passage_id IN ({marks})", chunk))
            fact_ids.update(r[0] for r in db.execute(
                f"SELECT fact_id FROM fact_sources WHERE passage_id IN ({marks})", chunk))
        # Cascades remove the passages' mentions and fact sources.
        db.execute("DELETE FROM documents WHERE namespace = ? AND id = ?", (namespace, document_id))
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
        if collect_embeddings:
            self._delete_unused_embeddings()
        return removed

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
            raise StoreError(f"{self._path} is busy ({err}); another process is writing, try again") from None

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


def _stack(blobs: list[bytes | None], dimension: int | None = None) -> np.ndarray:
    """Vectors stored as float32 blobs, one row each; a missing blob (None) becomes zeros."""
    if dimension is None:
        dimension = len(blobs[0]) // 4 if blobs else 0
    matrix = np.zeros((len(blobs), dimension), dtype=np.float32)
    for row, blob in enumerate(blobs):
        if blob is not None:
            matrix[row] = np.frombuffer(blob, dtype=np.float32)
    return matrix
