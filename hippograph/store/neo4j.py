"""The graph-server store: the same memory as the SQLite store, in Neo4j (or a server speaking its
Bolt protocol and Cypher), through the official driver.

Nodes: Document, Passage (a note), Entity, Fact, Embedding (a vector, float32 bytes, keyed by
the hash of its text), NoteChange (a note's history) and Meta. Relationships:
(Document)-[:HAS_PASSAGE]->(Passage), (Passage)-[:MENTIONS]->(Entity),
(Passage)-[:STATES]->(Fact), (Fact)-[:SUBJECT|OBJECT]->(Entity), (Entity)-[:SYNONYM]->(Entity),
(Passage)-[:LINK]->(Passage) and (NoteChange)-[:CHANGES]->(Passage). Node properties are the
fields of the export format (transfer.py), so both stores agree record for record.

Each write is one transaction (retried by the driver on transient errors), built only from
parameters (`UNWIND $rows`), with MERGE on ids so that writing the same records twice changes
nothing. PageRank runs in the client on the graph read by `graph_data`, exactly as for SQLite;
Neo4j's Graph Data Science and vector indexes are not used.
"""

from __future__ import annotations

import contextlib
import json
import random
from time import sleep
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import DocumentNotFound, ReadOnlyStore, StoreBusy, StoreError
from ..timestamps import now
from ..types import Change, Link, Note, Passage, Stats, StoredDocument, StoredFact
from .bolt import BoltSettings, connect
from .records import AttributeChange, GraphData, PassageRecord, WriteBatch, Written, stack_vectors
from .rules import NOTE_FIELDS, OTHER_VERSION_STORED, Touched, ends_of, history_value
from .transfer import RECORDS, Record, from_export, to_export

SCHEMA_VERSION = "1"
_SCHEMA = [
    *(f"CREATE CONSTRAINT hg_{label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
      for label, key in (("Document", "uid"), ("Passage", "id"), ("Entity", "id"), ("Fact", "id"),
                         ("Embedding", "key"), ("NoteChange", "id"), ("Meta", "key"))),
    *(f"CREATE INDEX hg_{label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) ON (n.{key})"
      for label, key in (("Document", "namespace"), ("Passage", "namespace"), ("Passage", "document_uid"),
                         ("Passage", "embedding_key"), ("Entity", "namespace"), ("Entity", "embedding_key"),
                         ("Fact", "namespace"), ("Fact", "subject_id"), ("Fact", "embedding_key"),
                         ("NoteChange", "passage_id"))),
]
_PASSAGE_FIELDS = "p.id AS id, p.document_id AS document_id, p.position AS position, p.title AS title, " \
                  "p.text AS text, p.namespace AS namespace, p.created_at AS time"
_IN_NAMESPACE = "($namespace IS NULL OR n.namespace = $namespace)"
_COUNTS = {
    "documents": f"MATCH (n:Document) WHERE {_IN_NAMESPACE} RETURN count(n) AS c",
    "passages": f"MATCH (n:Passage) WHERE {_IN_NAMESPACE} RETURN count(n) AS c",
    "entities": f"MATCH (n:Entity) WHERE {_IN_NAMESPACE} RETURN count(n) AS c",
    "facts": f"MATCH (n:Fact) WHERE {_IN_NAMESPACE} RETURN count(n) AS c",
    "mentions": f"MATCH (n:Passage)-[r:MENTIONS]->() WHERE {_IN_NAMESPACE} RETURN count(r) AS c",
    "synonym_edges": f"MATCH (n:Entity)-[r:SYNONYM]->() WHERE {_IN_NAMESPACE} RETURN count(r) AS c",
    "links": f"MATCH (n:Passage)-[r:LINK]->() WHERE {_IN_NAMESPACE} RETURN count(r) AS c",
    "failed_extractions": f"MATCH (n:Passage) WHERE n.extraction_error IS NOT NULL AND {_IN_NAMESPACE} "
                          "RETURN count(n) AS c",
}
# How each export record is read: a query returning its fields, in a stable order.
_EXPORT = {
    "embedding": "MATCH (n:Embedding) RETURN n.key AS key, n.vector AS vector ORDER BY key",
    "document": "MATCH (n:Document) RETURN n.namespace AS namespace, n.id AS id, n.title AS title, n.source AS source, "
                "n.metadata AS metadata, n.content_hash AS content_hash, n.created_at AS created_at "
                "ORDER BY namespace, id",
    "passage": "MATCH (n:Passage) RETURN " + ", ".join(f"n.{f} AS {f}" for f in RECORDS["passage"]) + " ORDER BY id",
    "entity": "MATCH (n:Entity) RETURN " + ", ".join(f"n.{f} AS {f}" for f in RECORDS["entity"]) + " ORDER BY id",
    "mention": "MATCH (p:Passage)-[:MENTIONS]->(e:Entity) RETURN p.id AS passage_id, e.id AS entity_id "
               "ORDER BY passage_id, entity_id",
    "fact": "MATCH (n:Fact) RETURN " + ", ".join(f"n.{f} AS {f}" for f in RECORDS["fact"]) + " ORDER BY id",
    "fact_source": "MATCH (p:Passage)-[:STATES]->(f:Fact) RETURN f.id AS fact_id, p.id AS passage_id "
                   "ORDER BY fact_id, passage_id",
    "synonym": "MATCH (a:Entity)-[s:SYNONYM]->(b:Entity) RETURN a.id AS a, b.id AS b, s.weight AS weight ORDER BY a, b",
    "link": "MATCH (a:Passage)-[l:LINK]->(b:Passage) RETURN a.id AS a, b.id AS b, l.kind AS kind, l.reason AS reason, "
            "l.weight AS weight, l.created_at AS created_at ORDER BY a, b",
    "note_change": "MATCH (n:NoteChange) RETURN " + ", ".join(f"n.{f} AS {f}" for f in RECORDS["note_change"])
                   + " ORDER BY id",
}
# How each export record is written; every row must find what it refers to (counted).
_IMPORT = {
    "embedding": "UNWIND $rows AS r CREATE (n:Embedding {key: r.key, vector: r.vector}) RETURN count(n) AS c",
    "document": "UNWIND $rows AS r CREATE (n:Document) SET n = r RETURN count(n) AS c",
    "passage": "UNWIND $rows AS r MATCH (d:Document {uid: r.document_uid}) CREATE (d)-[:HAS_PASSAGE]->(n:Passage) "
               "SET n = r RETURN count(n) AS c",
    "entity": "UNWIND $rows AS r CREATE (n:Entity) SET n = r RETURN count(n) AS c",
    "mention": "UNWIND $rows AS r MATCH (p:Passage {id: r.passage_id}), (e:Entity {id: r.entity_id}) "
               "CREATE (p)-[m:MENTIONS]->(e) RETURN count(m) AS c",
    "fact": "UNWIND $rows AS r MATCH (s:Entity {id: r.subject_id}), (o:Entity {id: r.object_id}) "
            "CREATE (s)<-[:SUBJECT]-(n:Fact)-[:OBJECT]->(o) SET n = r RETURN count(n) AS c",
    "fact_source": "UNWIND $rows AS r MATCH (p:Passage {id: r.passage_id}), (f:Fact {id: r.fact_id}) "
                   "CREATE (p)-[s:STATES]->(f) RETURN count(s) AS c",
    "synonym": "UNWIND $rows AS r MATCH (a:Entity {id: r.a}), (b:Entity {id: r.b}) "
               "CREATE (a)-[s:SYNONYM {weight: r.weight}]->(b) RETURN count(s) AS c",
    "link": "UNWIND $rows AS r MATCH (a:Passage {id: r.a}), (b:Passage {id: r.b}) WHERE a.namespace = b.namespace "
            "CREATE (a)-[l:LINK {kind: r.kind, reason: r.reason, weight: r.weight, created_at: r.created_at}]->(b) "
            "RETURN count(l) AS c",
    "note_change": "UNWIND $rows AS r MATCH (p:Passage {id: r.passage_id}) CREATE (n:NoteChange)-[:CHANGES]->(p) "
                   "SET n = r RETURN count(n) AS c",
}
_IMPORT_BATCH = 1000
_CLASH_RETRIES = 5
_SNAPSHOT_TRIES = 5


def _uid(namespace: str, document_id: str) -> str:
    """A document's unique key: its namespace and id (a separator no id can hold)."""
    return f"{namespace}\x1f{document_id}"


class Neo4jStore:
    """A memory in a database of a graph server: ``Neo4jStore("bolt://host:7687", ("neo4j", pw), "kg")``;
    arguments left out come from NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD and NEO4J_DATABASE.
    Use a database of its own: the store reads and deletes its labels in the whole database.
    With `read_only`, the store refuses every write before sending it (and makes no schema)."""

    def __init__(self, uri: str | None = None, auth: tuple[str, str] | None = None, database: str | None = None,
                 *, settings: BoltSettings | None = None, create: bool = True, read_only: bool = False) -> None:
        self.settings = settings or BoltSettings.from_env(uri, auth, database)
        self.path = self.settings.describe()
        self.read_only = read_only
        self._driver = connect(self.settings)
        try:
            self._open_schema(create and not read_only)
        except BaseException:
            self._driver.close()
            raise

    # -- plumbing ------------------------------------------------------------

    @contextlib.contextmanager
    def _failures(self, what: str):
        """The driver's errors as a StoreError saying `what` failed (never the password)."""
        import neo4j

        try:
            yield
        except neo4j.exceptions.Neo4jError as err:
            raise StoreError(f"the graph server {self.settings.uri} refused {what} ({err.code}: {err.message})") from None
        except neo4j.exceptions.DriverError as err:
            detail = " ".join(str(err).split())  # the driver's message spans lines
            raise StoreError(f"lost the graph server {self.settings.uri} during {what} ({detail})") from None

    def _session(self, *, read: bool = False):
        """A session on the store's database that sees every write this store made before
        (the bookmarks `execute_query` keeps), also on a cluster."""
        import neo4j

        return self._driver.session(database=self.settings.database,
                                    bookmark_manager=self._driver.execute_query_bookmark_manager,
                                    default_access_mode=neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS)

    def _read(self, query: str, **params) -> list[dict]:
        import neo4j

        with self._failures("a read"):
            records, _, _ = self._driver.execute_query(query, params, database_=self.settings.database,
                                                       routing_=neo4j.RoutingControl.READ)
        return [record.data() for record in records]

    def _snapshot(self, read):
        """`read(tx)` in one read transaction that no write committed during: a server may show
        each statement the latest commit (read committed), so it is read again until the store
        version before and after agree."""
        def unit(tx):
            before = _version(tx)
            result = read(tx, before)
            return result if _version(tx) == before else None

        with self._failures("a read"), self._session(read=True) as session:
            for _ in range(_SNAPSHOT_TRIES):
                result = session.execute_read(unit)
                if result is not None:
                    return result
        raise StoreBusy(f"{self.path} kept changing while it was read; try again")

    def _write(self, work, *, retry: bool = True) -> Any:
        """Run `work(tx)` in one write transaction that counts a new store version; StoreError
        when the server refuses or goes away (nothing written). Counting first locks the
        version node, so writers take turns and each sees what the one before committed.
        The transaction is run again on transient errors (a deadlock, a leader switch) and
        when a concurrent writer created a node it MERGEs first (a server without MERGE locks
        reports a constraint clash; run again, the MERGE finds that node), unless `retry` is
        off: work that consumes a stream cannot be run twice."""
        import neo4j

        if self.read_only:
            raise ReadOnlyStore(f"{self.path} is open read-only; nothing was written")

        def unit(tx):
            tx.run("MATCH (m:Meta {key: 'version'}) SET m.value = m.value + 1").consume()
            return work(tx)

        with self._failures("a write; nothing of this batch was stored"), self._session() as session:
            if not retry:
                with session.begin_transaction() as tx:
                    result = unit(tx)
                    tx.commit()
                    return result
            for attempt in range(_CLASH_RETRIES + 1):
                try:
                    return session.execute_write(unit)
                except neo4j.exceptions.ConstraintError:
                    if attempt == _CLASH_RETRIES:
                        raise
                    sleep(random.uniform(0, 0.05 * 2 ** attempt))  # writers in step fall out of step

    def _open_schema(self, create: bool) -> None:
        """Check the stored schema version; with `create`, make the constraints, indexes and
        counters a new store needs (each only if missing)."""
        stored = self._meta("schema_version")
        if stored is None and not create:
            raise StoreError(f"no hippograph store in {self.path}: ingest something into it first")
        if stored is not None and stored != SCHEMA_VERSION:
            raise StoreError(f"{self.path} holds schema version {stored}; this hippograph reads {SCHEMA_VERSION}")
        if stored is not None:
            return
        with self._failures("creating the store's schema"):
            for statement in _SCHEMA:
                self._driver.execute_query(statement, database_=self.settings.database)
            self._driver.execute_query(
                "MERGE (s:Meta {key: 'schema_version'}) ON CREATE SET s.value = $schema "
                "MERGE (v:Meta {key: 'version'}) ON CREATE SET v.value = 0 "
                "MERGE (h:Meta {key: 'history_id'}) ON CREATE SET h.value = 0",
                schema=SCHEMA_VERSION, database_=self.settings.database)

    def _meta(self, key: str) -> Any:
        rows = self._read("MATCH (m:Meta {key: $key}) RETURN m.value AS value", key=key)
        return rows[0]["value"] if rows else None

    def close(self) -> None:
        self._driver.close()

    # -- reads ---------------------------------------------------------------

    def version(self) -> int:
        return int(self._meta("version") or 0)

    def embedding_model(self) -> str | None:
        return self._meta("embedding_model")

    def document_hashes(self, namespace: str, ids: Iterable[str]) -> dict[str, str]:
        rows = self._read("MATCH (d:Document) WHERE d.uid IN $uids RETURN d.id AS id, d.content_hash AS hash",
                          uids=[_uid(namespace, i) for i in ids])
        return {row["id"]: row["hash"] for row in rows}

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        rows = self._read("MATCH (v:Embedding) WHERE v.key IN $keys RETURN v.key AS key, v.vector AS vector",
                          keys=sorted(set(keys)))
        return {row["key"]: np.frombuffer(row["vector"], dtype=np.float32) for row in rows}

    def entity_names(self, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        rows = self._read("MATCH (e:Entity) WHERE e.id IN $ids RETURN e.id AS id, e.name AS name, "
                          "e.embedding_key AS key", ids=sorted(set(ids)))
        return {row["id"]: (row["name"], row["key"]) for row in rows}

    def entity_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._vectors_of("Entity", namespace)

    def passage_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._vectors_of("Passage", namespace)

    def _vectors_of(self, label: str, namespace: str) -> tuple[list[str], np.ndarray]:
        rows = self._read(f"MATCH (n:{label} {{namespace: $namespace}}) MATCH (v:Embedding {{key: n.embedding_key}}) "
                          "RETURN n.id AS id, v.vector AS vector ORDER BY id", namespace=namespace)
        ids = [row["id"] for row in rows]
        return ids, stack_vectors([row["vector"] for row in rows], ids=[f"{label.lower()} {i}" for i in ids])

    def entity_passage_counts(self, ids: Iterable[str]) -> dict[str, int]:
        rows = self._read("MATCH (p:Passage)-[:MENTIONS]->(e:Entity) WHERE e.id IN $ids "
                          "RETURN e.id AS id, count(p) AS n", ids=sorted(set(ids)))
        return {row["id"]: row["n"] for row in rows}

    def passages_mentioning(self, namespace: str, entity_id: str, limit: int) -> list[str]:
        rows = self._read("MATCH (p:Passage {namespace: $namespace})-[:MENTIONS]->(:Entity {id: $entity}) "
                          "RETURN p.id AS id ORDER BY p.created_at DESC, id LIMIT $limit",
                          namespace=namespace, entity=entity_id, limit=limit)
        return [row["id"] for row in rows]

    def document(self, namespace: str, document_id: str) -> StoredDocument:
        rows = self._read(
            "MATCH (d:Document {uid: $uid}) OPTIONAL MATCH (d)-[:HAS_PASSAGE]->(p:Passage) "
            "WITH d, p ORDER BY p.position RETURN d.id AS id, d.title AS title, d.source AS source, "
            "d.metadata AS metadata, d.content_hash AS hash, collect(p.id) AS passages",
            uid=_uid(namespace, document_id))
        if not rows:
            raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
        row = rows[0]
        return StoredDocument(id=row["id"], title=row["title"], source=row["source"],
                              metadata=json.loads(row["metadata"]), content_hash=row["hash"],
                              passage_ids=tuple(row["passages"]), namespace=namespace)

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        rows = self._read(f"MATCH (p:Passage) WHERE p.id IN $ids RETURN {_PASSAGE_FIELDS}", ids=list(ids))
        return {row["id"]: Passage(**row) for row in rows}

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        rows = self._read(f"MATCH (p:Passage) WHERE p.extraction_error IS NOT NULL AND "
                          f"($namespace IS NULL OR p.namespace = $namespace) "
                          f"RETURN {_PASSAGE_FIELDS}, p.extractor AS extractor ORDER BY id", namespace=namespace)
        return [(Passage(**{k: v for k, v in row.items() if k != "extractor"}), row["extractor"]) for row in rows]

    def notes(self, namespace: str, ids: Iterable[str]) -> dict[str, Note]:
        rows = self._read(
            "MATCH (d:Document)-[:HAS_PASSAGE]->(p:Passage {namespace: $namespace}) WHERE p.id IN $ids "
            "OPTIONAL MATCH (p)-[l:LINK]-(o:Passage) WITH d, p, l, o ORDER BY o.id "
            "RETURN p.id AS id, p.document_id AS document_id, p.text AS text, p.title AS title, "
            "p.keywords AS keywords, p.tags AS tags, p.context AS context, p.created_at AS created_at, "
            "p.updated_at AS updated_at, d.metadata AS metadata, "
            "collect(CASE WHEN o IS NULL THEN NULL ELSE [o.id, l.kind, l.reason, l.weight] END) AS links",
            namespace=namespace, ids=list(ids))
        return {row["id"]: Note(
            row["id"], namespace, row["document_id"], row["text"], row["title"],
            keywords=tuple(json.loads(row["keywords"])), tags=tuple(json.loads(row["tags"])), context=row["context"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            links=tuple(Link(*link) for link in row["links"] if link), metadata=json.loads(row["metadata"]),
        ) for row in rows}

    def history(self, namespace: str, passage_id: str) -> list[Change]:
        return self._changes(namespace, "c.passage_id = $value", passage_id)

    def change(self, namespace: str, change_id: int) -> Change:
        found = self._changes(namespace, "c.id = $value", change_id)
        if not found:
            raise DocumentNotFound(f"no change {change_id!r} of a note in namespace {namespace!r}")
        return found[0]

    def _changes(self, namespace: str, condition: str, value: str | int) -> list[Change]:
        rows = self._read(
            f"MATCH (c:NoteChange)-[:CHANGES]->(p:Passage {{namespace: $namespace}}) WHERE {condition} "
            "RETURN c.id AS id, c.passage_id AS note, c.field AS field, c.old_value AS old, c.new_value AS new, "
            "c.changed_by AS by, c.source_note AS source, c.changed_at AS at ORDER BY id",
            namespace=namespace, value=value)
        return [Change(r["id"], r["note"], r["field"], history_value(r["old"]), history_value(r["new"]), r["by"], r["source"],
                       r["at"]) for r in rows]

    def namespaces(self) -> list[str]:
        return [row["namespace"] for row in self._read(
            "MATCH (d:Document) RETURN DISTINCT d.namespace AS namespace ORDER BY namespace")]

    def facts(self, namespace: str, subject_ids: Iterable[str] | None = None) -> list[StoredFact]:
        rows = self._read(
            "MATCH (s:Entity)<-[:SUBJECT]-(f:Fact {namespace: $namespace})-[:OBJECT]->(o:Entity) "
            "WHERE $subjects IS NULL OR s.id IN $subjects "
            "OPTIONAL MATCH (p:Passage)-[:STATES]->(f) WITH s, f, o, p ORDER BY p.id "
            "RETURN f.id AS id, s.name AS subject, f.relation AS relation, o.name AS object, "
            "f.valid_from AS valid_from, f.valid_to AS valid_to, collect(p.id) AS notes ORDER BY id",
            namespace=namespace, subjects=None if subject_ids is None else sorted(set(subject_ids)))
        return [StoredFact(r["subject"], r["relation"], r["object"], r["valid_from"], r["valid_to"],
                           note_ids=tuple(r["notes"])) for r in rows]

    def graph_data(self, namespace: str) -> GraphData:
        def read(tx, version: int) -> GraphData:
            def rows(query: str) -> list[list]:
                return [list(record.values()) for record in tx.run(query, namespace=namespace)]

            return GraphData.from_rows(
                version,
                rows("MATCH (e:Entity {namespace: $namespace}) RETURN e.id AS id, e.name AS name ORDER BY id"),
                rows("MATCH (p:Passage {namespace: $namespace}) MATCH (v:Embedding {key: p.embedding_key}) "
                     "RETURN p.id AS id, v.vector AS vector, p.title AS title, p.created_at AS time ORDER BY id"),
                rows("MATCH (f:Fact {namespace: $namespace}) OPTIONAL MATCH (v:Embedding {key: f.embedding_key}) "
                     "RETURN f.subject_id, f.object_id, f.relation, v.vector, f.valid_from, f.valid_to, f.id AS id "
                     "ORDER BY id"),
                rows("MATCH (p:Passage {namespace: $namespace})-[:MENTIONS]->(e:Entity) "
                     "RETURN p.id AS p, e.id AS e ORDER BY p, e"),
                rows("MATCH (a:Entity {namespace: $namespace})-[s:SYNONYM]->(b:Entity) "
                     "RETURN a.id AS a, b.id AS b, s.weight AS w ORDER BY a, b"),
                rows("MATCH (a:Passage {namespace: $namespace})-[l:LINK]->(b:Passage) "
                     "RETURN a.id AS a, b.id AS b, l.weight AS w, l.kind AS kind ORDER BY a, b"),
            )

        return self._snapshot(read)

    def stats(self, namespace: str | None = None) -> Stats:
        counts = {name: self._read(query, namespace=namespace)[0]["c"] for name, query in _COUNTS.items()}
        counts["embeddings"] = self._read(  # every embedding key a record holds has its Embedding node
            "MATCH (v:Embedding) RETURN count(v) AS c" if namespace is None else
            "MATCH (n) WHERE (n:Passage OR n:Entity OR n:Fact) AND n.namespace = $namespace "
            "RETURN count(DISTINCT n.embedding_key) AS c", namespace=namespace)[0]["c"]
        return Stats(**counts, path=self.path, size_bytes=0)

    def records(self) -> Iterator[Record]:
        """Every record, read in one transaction; StoreError at the end if a write committed
        meanwhile (the records would not fit together)."""
        with self._failures("an export"), self._session(read=True) as session, session.begin_transaction() as tx:
            before = _version(tx)
            for kind, query in _EXPORT.items():
                for record in tx.run(query):
                    yield kind, to_export(kind, record.data())
            if _version(tx) != before:
                raise StoreError(f"{self.path} changed while it was read whole; read it again")

    # -- writes --------------------------------------------------------------

    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        def work(tx) -> Written:
            self._check_embedding_model(tx, embedding_model)
            entities_before, facts_before = _totals(tx)
            removed: list[str] = []
            touched = Touched()
            for namespace, document_id in batch.replaces:
                removed += self._delete_document(tx, namespace, document_id, touched)
            stored = [r.passage.id for r in batch.passages if batch.retried or r.passage.id in batch.refreshes]
            if stored and _count(tx, "MATCH (p:Passage) WHERE p.id IN $ids RETURN count(p) AS c", ids=stored) < len(set(stored)):
                raise StoreError("a note was deleted or replaced while it was extracted again; nothing of this "
                                 "batch was written, run it again")
            removed += self._clear_passages(tx, batch.refreshes, touched)
            self._insert(tx, batch)
            self._apply_changes(tx, batch.changes)
            touched.facts |= {f.id for f in batch.facts}
            self._refresh_validity(tx, touched)
            if batch.replaces or batch.refreshes:
                self._delete_unused_embeddings(tx)
            still = {r["id"] for r in tx.run("MATCH (e:Entity) WHERE e.id IN $ids RETURN e.id AS id", ids=removed)}
            entities, facts = _totals(tx)
            return Written([entity for entity in removed if entity not in still],  # not those the batch wrote again
                           entities - entities_before, facts - facts_before)

        return self._write(work)

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        def work(tx) -> list[str]:
            touched = Touched()
            removed = self._delete_document(tx, namespace, document_id, touched)
            self._refresh_validity(tx, touched)
            self._delete_unused_embeddings(tx)
            return removed

        return self._write(work)

    def delete_namespace(self, namespace: str) -> int:
        def work(tx) -> int:
            documents = _count(tx, "MATCH (d:Document {namespace: $ns}) RETURN count(d) AS c", ns=namespace)
            for label in ("NoteChange", "Passage", "Document", "Fact", "Entity"):
                where = ("MATCH (n:NoteChange)-[:CHANGES]->(:Passage {namespace: $ns})" if label == "NoteChange"
                         else f"MATCH (n:{label} {{namespace: $ns}})")
                tx.run(f"{where} DETACH DELETE n", ns=namespace).consume()
            self._delete_unused_embeddings(tx)
            return documents

        return self._write(work)

    def revert(self, namespace: str, change_id: int) -> Change:
        change = self.change(namespace, change_id)
        if change.field not in NOTE_FIELDS:
            raise StoreError(f"change {change_id} is a text change; revert it by updating the note's text")

        def work(tx) -> None:
            if _attribute(tx, change.note_id, change.field) != change.new:
                raise StoreError(f"the {change.field} of note {change.note_id} changed again after change "
                                 f"{change_id}; revert the later changes first")
            self._apply_changes(tx, [AttributeChange(change.note_id, change.field, change.old, "revert")])

        self._write(work)
        return self.history(namespace, change.note_id)[-1]

    def load(self, embedding_model: str | None, records: Iterable[Record]) -> None:
        def work(tx) -> None:
            if _count(tx, "MATCH (n) WHERE n:Document OR n:Embedding RETURN count(n) AS c"):
                raise StoreError(f"{self.path} is not empty; import into a new store")
            if embedding_model is not None:
                self._check_embedding_model(tx, embedding_model)
            pending: list[dict] = []
            kind_of_pending = None
            for kind, values in records:
                if kind != kind_of_pending or len(pending) >= _IMPORT_BATCH:
                    _import(tx, kind_of_pending, pending)
                    pending, kind_of_pending = [], kind
                pending.append(_import_row(kind, values))
            _import(tx, kind_of_pending, pending)
            tx.run("MATCH (m:Meta {key: 'history_id'}) OPTIONAL MATCH (c:NoteChange) WITH m, max(c.id) AS top "
                   "SET m.value = coalesce(top, 0)").consume()

        try:
            self._write(work, retry=False)
        except (ValueError, TypeError) as err:
            raise StoreError(f"the export does not fit together ({err}); nothing was imported") from None

    # -- write steps (inside one transaction) ----------------------------------

    def _check_embedding_model(self, tx, embedding_model: str) -> None:
        stored = tx.run("MERGE (m:Meta {key: 'embedding_model'}) ON CREATE SET m.value = $model RETURN m.value AS v",
                        model=embedding_model).single()["v"]
        if stored != embedding_model:
            raise StoreError(f"{self.path} holds vectors of embedding model {stored!r}, not {embedding_model!r}; "
                             "open it with the same model or ingest into a new store")

    def _delete_document(self, tx, namespace: str, document_id: str, touched: Touched) -> list[str]:
        uid = _uid(namespace, document_id)
        if not _count(tx, "MATCH (d:Document {uid: $uid}) RETURN count(d) AS c", uid=uid):
            raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
        passage_ids = [r["id"] for r in tx.run("MATCH (p:Passage {document_uid: $uid}) RETURN p.id AS id", uid=uid)]
        entity_ids, fact_ids = _graph_records_of(tx, passage_ids, touched)
        tx.run("MATCH (c:NoteChange) WHERE c.passage_id IN $ids DETACH DELETE c", ids=passage_ids).consume()
        tx.run("MATCH (p:Passage {document_uid: $uid}) DETACH DELETE p", uid=uid).consume()
        tx.run("MATCH (d:Document {uid: $uid}) DETACH DELETE d", uid=uid).consume()
        return _delete_unsupported(tx, entity_ids, fact_ids)

    def _clear_passages(self, tx, passage_ids: list[str], touched: Touched) -> list[str]:
        """Remove the mentions, fact sources and links of passages about to get a new text, and
        the facts and entities nothing else supports; return the removed entity ids."""
        if not passage_ids:
            return []
        entity_ids, fact_ids = _graph_records_of(tx, passage_ids, touched)
        tx.run("MATCH (p:Passage)-[r:MENTIONS|STATES|LINK]-() WHERE p.id IN $ids DELETE r", ids=passage_ids).consume()
        return _delete_unsupported(tx, entity_ids, fact_ids)

    def _insert(self, tx, batch: WriteBatch) -> None:
        time = now()
        tx.run("UNWIND $rows AS r MERGE (v:Embedding {key: r.key}) ON CREATE SET v.vector = r.vector",
               rows=[{"key": k, "vector": np.asarray(v, dtype=np.float32).tobytes()}
                     for k, v in batch.embeddings.items()]).consume()
        new_documents = [{"uid": _uid(d.namespace, d.id), "namespace": d.namespace, "id": d.id, "title": d.title,
                          "source": d.source, "metadata": json.dumps(d.metadata, sort_keys=True),
                          "content_hash": digest, "created_at": time} for d, digest in batch.documents]
        if _count(tx, "UNWIND $rows AS r MATCH (d:Document {uid: r.uid}) WHERE d.content_hash <> r.content_hash "
                      "RETURN count(d) AS c", rows=new_documents):
            raise StoreError(OTHER_VERSION_STORED)
        tx.run("UNWIND $rows AS r MERGE (d:Document {uid: r.uid}) ON CREATE SET d = r",  # the same: a no-op
               rows=new_documents).consume()
        tx.run("UNWIND $rows AS r MATCH (d:Document {uid: r.uid}) "
               "SET d.title = r.title, d.metadata = r.metadata, d.content_hash = r.hash",
               rows=[{"uid": _uid(d.namespace, d.id), "title": d.title, "metadata": json.dumps(d.metadata, sort_keys=True),
                      "hash": digest} for d, digest in batch.document_updates]).consume()
        refreshed = set(batch.refreshes)
        self._record_refreshes(tx, [r for r in batch.passages if r.passage.id in refreshed], time)
        tx.run("UNWIND $rows AS r MATCH (d:Document {uid: r.uid}) "  # a passage written again keeps its time
               "MERGE (p:Passage {id: r.id}) "
               "ON CREATE SET p.namespace = r.namespace, p.document_id = r.document_id, p.document_uid = r.uid, "
               "p.position = r.position, p.created_at = r.created_at "
               "MERGE (d)-[:HAS_PASSAGE]->(p) "
               "SET p.title = r.title, p.text = r.text, p.embedding_key = r.embedding_key, p.extractor = r.extractor, "
               "p.extraction_error = r.error, p.keywords = r.keywords, p.tags = r.tags, p.context = r.context",
               rows=[_passage_row(r, time) for r in batch.passages]).consume()
        tx.run("UNWIND $rows AS r MERGE (e:Entity {id: r.id}) "
               "ON CREATE SET e.namespace = r.namespace, e.key = r.key, e.name = r.name, e.embedding_key = r.vector "
               "ON MATCH SET e.embedding_key = coalesce(e.embedding_key, r.vector)",
               rows=[{"id": e.id, "namespace": e.namespace, "key": e.key, "name": e.name, "vector": e.embedding_key}
                     for e in batch.entities]).consume()
        tx.run("UNWIND $rows AS r MATCH (p:Passage {id: r[0]}), (e:Entity {id: r[1]}) MERGE (p)-[:MENTIONS]->(e)",
               rows=[list(m) for m in batch.mentions]).consume()
        tx.run("UNWIND $rows AS r MATCH (s:Entity {id: r.subject_id}), (o:Entity {id: r.object_id}) "
               "MERGE (f:Fact {id: r.id}) ON CREATE SET f = r MERGE (f)-[:SUBJECT]->(s) MERGE (f)-[:OBJECT]->(o)",
               rows=[{"id": f.id, "namespace": f.namespace, "subject_id": f.subject_id, "relation": f.relation,
                      "object_id": f.object_id, "embedding_key": f.embedding_key, "relation_group": f.relation_group}
                     for f in batch.facts]).consume()
        tx.run("UNWIND $rows AS r MATCH (f:Fact {id: r[0]}), (p:Passage {id: r[1]}) MERGE (p)-[:STATES]->(f)",
               rows=[list(s) for s in batch.fact_sources]).consume()
        tx.run("UNWIND $rows AS r MATCH (a:Entity {id: r[0]}), (b:Entity {id: r[1]}) "  # gone entities: no edge
               "MERGE (a)-[s:SYNONYM]->(b) ON CREATE SET s.weight = r[2]",
               rows=[list(s) for s in batch.synonyms]).consume()
        links = [{"a": link.a, "b": link.b, "kind": link.kind, "reason": link.reason, "weight": link.weight,
                  "time": time} for link in batch.links]
        if _count(tx, "UNWIND $rows AS r MATCH (a:Passage {id: r.a}), (b:Passage {id: r.b}) "
                      "WHERE a.namespace <> b.namespace RETURN count(*) AS c", rows=links):
            raise StoreError("a link must join two notes of one namespace")
        tx.run("UNWIND $rows AS r MATCH (a:Passage {id: r.a}), (b:Passage {id: r.b}) "  # gone notes: no link
               "MERGE (a)-[l:LINK]->(b) ON CREATE SET l.created_at = r.time "
               "SET l.kind = r.kind, l.reason = r.reason, l.weight = r.weight", rows=links).consume()

    def _record_refreshes(self, tx, records: list[PassageRecord], time: str) -> None:
        for record in records:
            passage_id = record.passage.id
            old_text = tx.run("MATCH (p:Passage {id: $id}) RETURN p.text AS t", id=passage_id).single()["t"]
            old_values = (old_text, *(_attribute(tx, passage_id, field) for field in NOTE_FIELDS))
            attributes = record.attributes
            new_values = (record.passage.text, attributes.keywords, attributes.tags, attributes.context)
            for field, before, after in zip(("text", *NOTE_FIELDS), old_values, new_values):
                if before != after:
                    _record_change(tx, passage_id, field, before, after, "update", None, time)
            tx.run("MATCH (p:Passage {id: $id}) SET p.updated_at = $time", id=passage_id, time=time).consume()

    def _apply_changes(self, tx, changes: list[AttributeChange]) -> None:
        time = now()
        for change in changes:
            if change.field not in NOTE_FIELDS:
                raise StoreError(f"a note has no attribute {change.field!r}; use one of {', '.join(NOTE_FIELDS)}")
            if not _count(tx, "MATCH (p:Passage {id: $id}) RETURN count(p) AS c", id=change.passage_id):
                continue  # it went away in this batch (a replaced document)
            before = _attribute(tx, change.passage_id, change.field)
            after = change.value if change.field == "context" else tuple(change.value)
            if before == after:
                continue
            stored = after if change.field == "context" else json.dumps(after)
            tx.run(f"MATCH (p:Passage {{id: $id}}) SET p.{change.field} = $value, p.updated_at = $time",
                   id=change.passage_id, value=stored, time=time).consume()
            _record_change(tx, change.passage_id, change.field, before, after, change.changed_by, change.source_note,
                           time)

    def _refresh_validity(self, tx, touched: Touched) -> None:
        tx.run("UNWIND $ids AS id MATCH (f:Fact {id: id}) OPTIONAL MATCH (p:Passage)-[:STATES]->(f) "
               "WITH f, min(p.created_at) AS earliest SET f.valid_from = earliest", ids=sorted(touched.facts)).consume()
        groups = sorted(touched.groups | _groups_of(tx, touched.facts))
        members: dict[tuple[str, str], list] = {group: [] for group in groups}
        for r in tx.run("UNWIND $groups AS g MATCH (f:Fact {subject_id: g[0], relation_group: g[1]}) "
                        "RETURN g[0] AS subject, g[1] AS grp, f.id AS id, f.object_id AS object, f.valid_from AS from "
                        "ORDER BY subject, grp, from, id", groups=[list(group) for group in groups]):
            members[(r["subject"], r["grp"])].append((r["id"], r["object"], r["from"]))
        tx.run("UNWIND $rows AS r MATCH (f:Fact {id: r[0]}) SET f.valid_to = r[1]",  # one round trip, not two a group
               rows=[[fact_id, valid_to] for rows in members.values() for fact_id, valid_to in ends_of(rows)]).consume()

    def _delete_unused_embeddings(self, tx) -> None:
        tx.run("MATCH (v:Embedding) WHERE NOT EXISTS { MATCH (n:Passage {embedding_key: v.key}) } "
               "AND NOT EXISTS { MATCH (n:Entity {embedding_key: v.key}) } "
               "AND NOT EXISTS { MATCH (n:Fact {embedding_key: v.key}) } DELETE v").consume()


def _version(tx) -> int:
    return int(tx.run("MATCH (m:Meta {key: 'version'}) RETURN m.value AS v").single()["v"])


def _count(tx, query: str, **params) -> int:
    return tx.run(query, **params).single()["c"]


def _totals(tx) -> tuple[int, int]:
    """Entities and facts in the whole store (inside a write, which holds the version lock)."""
    return (_count(tx, "MATCH (e:Entity) RETURN count(e) AS c"), _count(tx, "MATCH (f:Fact) RETURN count(f) AS c"))


def _attribute(tx, passage_id: str, field: str) -> tuple[str, ...] | str:
    value = tx.run(f"MATCH (p:Passage {{id: $id}}) RETURN p.{field} AS v", id=passage_id).single()["v"]
    return value if field == "context" else tuple(json.loads(value))


def _record_change(tx, passage_id: str, field: str, before, after, changed_by: str, source_note: str | None,
                   time: str) -> None:
    tx.run("MATCH (m:Meta {key: 'history_id'}) SET m.value = m.value + 1 WITH m "
           "MATCH (p:Passage {id: $passage}) CREATE (c:NoteChange)-[:CHANGES]->(p) "
           "SET c.id = m.value, c.passage_id = $passage, c.field = $field, c.old_value = $old, c.new_value = $new, "
           "c.changed_by = $by, c.source_note = $source, c.changed_at = $time",
           passage=passage_id, field=field, old=json.dumps(before), new=json.dumps(after), by=changed_by,
           source=source_note, time=time).consume()


def _graph_records_of(tx, passage_ids: list[str], touched: Touched) -> tuple[set[str], set[str]]:
    entity_ids = {r["id"] for r in tx.run(
        "MATCH (p:Passage)-[:MENTIONS]->(e:Entity) WHERE p.id IN $ids RETURN DISTINCT e.id AS id", ids=passage_ids)}
    fact_ids = {r["id"] for r in tx.run(
        "MATCH (p:Passage)-[:STATES]->(f:Fact) WHERE p.id IN $ids RETURN DISTINCT f.id AS id", ids=passage_ids)}
    touched.facts |= fact_ids
    touched.groups |= _groups_of(tx, fact_ids)
    return entity_ids, fact_ids


def _delete_unsupported(tx, entity_ids: set[str], fact_ids: set[str]) -> list[str]:
    tx.run("MATCH (f:Fact) WHERE f.id IN $ids AND NOT EXISTS { MATCH (:Passage)-[:STATES]->(f) } DETACH DELETE f",
           ids=sorted(fact_ids)).consume()
    removed = [r["id"] for r in tx.run(
        "MATCH (e:Entity) WHERE e.id IN $ids AND NOT EXISTS { MATCH (:Passage)-[:MENTIONS]->(e) } "
        "AND NOT EXISTS { MATCH (:Fact)-[:SUBJECT|OBJECT]->(e) } RETURN e.id AS id ORDER BY id", ids=sorted(entity_ids))]
    tx.run("MATCH (e:Entity) WHERE e.id IN $ids DETACH DELETE e", ids=removed).consume()
    return removed


def _groups_of(tx, fact_ids: set[str]) -> set[tuple[str, str]]:
    return {(r["s"], r["g"]) for r in tx.run(
        "MATCH (f:Fact) WHERE f.id IN $ids AND f.relation_group IS NOT NULL "
        "RETURN f.subject_id AS s, f.relation_group AS g", ids=sorted(fact_ids))}


def _passage_row(record: PassageRecord, time: str) -> dict:
    p, a = record.passage, record.attributes
    return {"uid": _uid(p.namespace, p.document_id), "id": p.id, "namespace": p.namespace,
            "document_id": p.document_id, "position": p.position, "created_at": p.time or time, "title": p.title,
            "text": p.text, "embedding_key": record.embedding_key, "extractor": record.extractor, "error": record.error,
            "keywords": json.dumps(a.keywords), "tags": json.dumps(a.tags), "context": a.context}


def _import_row(kind: str, values: dict) -> dict:
    row = from_export(kind, values)
    if kind == "document":
        row["uid"] = _uid(row["namespace"], row["id"])
    if kind == "passage":
        row["document_uid"] = _uid(row["namespace"], row["document_id"])
    return {name: value for name, value in row.items() if value is not None}


def _import(tx, kind: str | None, rows: list[dict]) -> None:
    if not rows:
        return
    made = _count(tx, _IMPORT[kind], rows=rows)
    if made != len(rows):
        raise StoreError(f"the export does not fit together ({len(rows) - made} {kind} record(s) name records it "
                         "does not hold); nothing was imported")
