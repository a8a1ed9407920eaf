"""The graph-server store: the same memory as the SQLite store, in Neo4j (or a server speaking its
Bolt protocol and Cypher), through the official driver.

Nodes: Document, Passage (a note; its vector also as a list of floats, for the server's vector
index: bolt_vectors.py), Entity, Fact, Embedding (a vector, float32 bytes, keyed by the hash of
its text), NoteChange (a note's history) and Meta. Relationships:
(Document)-[:HAS_PASSAGE]->(Passage), (Passage)-[:MENTIONS]->(Entity),
(Passage)-[:STATES]->(Fact), (Fact)-[:SUBJECT|OBJECT]->(Entity), (Entity)-[:SYNONYM]->(Entity),
(Passage)-[:LINK]->(Passage) and (NoteChange)-[:CHANGES]->(Passage). Node properties are the
fields of the export format (transfer.py), so both stores agree record for record; `CypherRecords`
(cypher_records.py) reads and writes them for the algorithm in writes.py and record_store.py.

Each write is one transaction (retried by the driver on transient errors), built only from
parameters (`UNWIND $rows`). PageRank runs in the client, on the neighbourhood of a question's
seeds (`neighbourhood`, by default on a graph server) or on the graph read by `graph_data`, exactly
as for SQLite; the seeds nearest the question come from the server's vector index where it has
one (`nearest_passages`). Neo4j's Graph Data Science is not used.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from time import sleep
from typing import TypeVar

import numpy as np

from ..errors import ReadOnlyStore, StoreBusy, StoreError
from . import bolt_vectors
from .bolt import BoltSettings, connect
from .cypher_records import CypherRecords, MissingReferences, runner, store_version
from .record_store import RecordStore
from .records import WriteBatch, Written

__all__ = ["Neo4jStore"]

SCHEMA_VERSION = "2"  # 2: passages hold their vector as floats (bolt_vectors.py); a store of 1 is upgraded
_SCHEMA = [
    *(
        f"CREATE CONSTRAINT hg_{label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
        for label, key in (
            ("Document", "uid"),
            ("Passage", "id"),
            ("Entity", "id"),
            ("Fact", "id"),
            ("Embedding", "key"),
            ("NoteChange", "id"),
            ("Meta", "key"),
        )
    ),
    *(
        f"CREATE INDEX hg_{label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) ON (n.{key})"
        for label, key in (
            ("Document", "namespace"),
            ("Passage", "namespace"),
            ("Passage", "document_uid"),
            ("Passage", "embedding_key"),
            ("Entity", "namespace"),
            ("Entity", "embedding_key"),
            ("Fact", "namespace"),
            ("Fact", "subject_id"),
            ("Fact", "object_id"),
            ("Fact", "embedding_key"),
            ("NoteChange", "passage_id"),
        )
    ),
]
_CLASH_RETRIES = 5


_SNAPSHOT_TRIES = 5
T = TypeVar("T")


class Neo4jStore(RecordStore):
    """A memory in a database of a graph server: ``Neo4jStore("bolt://host:7687", ("neo4j", pw), "kg")``;
    arguments left out come from NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD and NEO4J_DATABASE.
    Use a database of its own: the store reads and deletes its labels in the whole database.
    With `read_only`, the store refuses every write before sending it (and makes no schema)."""

    def __init__(
        self,
        uri: str | None = None,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        *,
        settings: BoltSettings | None = None,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or BoltSettings.from_env(uri, auth, database)
        self.path = self.settings.describe()
        self.read_only = read_only
        self.remote = True
        self.index_folder = None  # the client's indexes are rebuilt by each process
        self._driver = connect(self.settings)
        self._vectors = bolt_vectors.PassageVectors(self._read, self._execute, self.settings.uri)
        try:
            self._open_schema(create and not read_only)
        except BaseException:
            self._driver.close()
            raise

    # -- the server's vector index (bolt_vectors.py) ----------------------------

    def searches_passages(self) -> bool:
        return self._vectors.searched()

    def nearest_passages(self, namespace: str, vector: np.ndarray, count: int) -> list[tuple[str, float]]:
        return self._vectors.nearest(namespace, vector, count)

    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        written = super().write(batch, embedding_model)
        if batch.embeddings:
            self._vectors.make_index(len(next(iter(batch.embeddings.values()))))
        return written

    def _execute(self, what: str, query: str, **params) -> None:
        """One statement on its own (schema, upkeep), or StoreError saying `what` failed."""
        with self._failures(what):
            self._driver.execute_query(query, params, database_=self.settings.database)

    # -- plumbing ------------------------------------------------------------

    @contextlib.contextmanager
    def _failures(self, what: str):
        """The driver's errors as a StoreError saying `what` failed (never the password)."""
        import neo4j

        try:
            yield
        except neo4j.exceptions.Neo4jError as err:
            raise StoreError(
                f"the graph server {self.settings.uri} refused {what} ({err.code}: {err.message})"
            ) from None
        except neo4j.exceptions.DriverError as err:
            detail = " ".join(str(err).split())  # the driver's message spans lines
            raise StoreError(f"lost the graph server {self.settings.uri} during {what} ({detail})") from None

    def _session(self, *, read: bool = False):
        """A session on the store's database that sees every write this store made before
        (the bookmarks `execute_query` keeps), also on a cluster."""
        import neo4j

        return self._driver.session(
            database=self.settings.database,
            bookmark_manager=self._driver.execute_query_bookmark_manager,
            default_access_mode=neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS,
        )

    def _read(self, query: str, **params) -> list[dict]:
        """One statement, retried by the driver while the server is unreachable (BoltSettings.retry_seconds)."""
        import neo4j

        with self._failures("a read"):
            records, _, _ = self._driver.execute_query(
                query, params, database_=self.settings.database, routing_=neo4j.RoutingControl.READ
            )
        return [dict(record) for record in records]  # not record.data(): see _runner

    def _reading(self) -> contextlib.AbstractContextManager[CypherRecords]:
        return contextlib.nullcontext(CypherRecords(self._read))

    def _snapshot(self, read: Callable[[CypherRecords], T]) -> T:
        """`read` in one read transaction that no write committed during: a server may show each
        statement the latest commit (read committed), so it is read again until the store
        version before and after agree."""

        def unit(tx):
            before = store_version(tx)
            result = read(CypherRecords(runner(tx)))
            return result if store_version(tx) == before else None

        with self._failures("a read"), self._session(read=True) as session:
            for _ in range(_SNAPSHOT_TRIES):
                result = session.execute_read(unit)
                if result is not None:
                    return result
        raise StoreBusy(f"{self.path} kept changing while it was read; try again")

    @contextlib.contextmanager
    def _exporting(self) -> Iterator[CypherRecords]:
        with self._failures("an export"), self._session(read=True) as session, session.begin_transaction() as tx:
            before = store_version(tx)
            yield CypherRecords(runner(tx))
            if store_version(tx) != before:
                raise StoreError(f"{self.path} changed while it was read whole; read it again")

    def _write(self, work: Callable[[CypherRecords], T], *, retry: bool = True) -> T:
        """Run `work(records)` in one write transaction that counts a new store version; StoreError
        when the server refuses or goes away (nothing written). Counting first locks the
        version node, so writers take turns and each sees what the one before committed.
        The transaction is run again on transient errors (a deadlock, a leader switch, a
        constraint clash of writers in step), unless `retry` is off: work that consumes a stream
        cannot be run twice."""
        import neo4j

        if self.read_only:
            raise ReadOnlyStore(f"{self.path} is open read-only; nothing was written")

        def unit(tx):
            tx.run("MATCH (m:Meta {key: 'version'}) SET m.value = m.value + 1").consume()
            return work(CypherRecords(runner(tx)))

        with self._failures("a write; nothing of this batch was stored"), self._session() as session:
            if not retry:
                with session.begin_transaction() as tx:
                    result = unit(tx)
                    tx.commit()
                    return result
            for attempt in range(_CLASH_RETRIES + 1):
                try:
                    return session.execute_write(unit)
                except (neo4j.exceptions.ConstraintError, MissingReferences):
                    if attempt == _CLASH_RETRIES:
                        raise
                    sleep(random.uniform(0, 0.05 * 2**attempt))  # writers in step fall out of step

    def _open_schema(self, create: bool) -> None:
        """Check the stored schema version; with `create`, make the constraints, indexes and
        counters a new store needs (each only if missing)."""
        stored = CypherRecords(self._read).meta("schema_version")
        if stored is None and not create:
            raise StoreError(f"no hippograph store in {self.path}: ingest something into it first")
        if stored is not None and stored not in (SCHEMA_VERSION, "1"):
            raise StoreError(f"{self.path} holds schema version {stored}; this hippograph reads {SCHEMA_VERSION}")
        if stored == "1" and not self.read_only:  # read-only, it is read as it is, searched in the client
            self._vectors.hold_all()
            self._execute(
                "upgrading the store", "MATCH (s:Meta {key: 'schema_version'}) SET s.value = $v", v=SCHEMA_VERSION
            )
        if stored is not None:
            return
        for statement in _SCHEMA:
            self._execute("creating the store's schema", statement)
        self._execute(
            "creating the store's schema",
            "MERGE (s:Meta {key: 'schema_version'}) ON CREATE SET s.value = $schema "
            "MERGE (v:Meta {key: 'version'}) ON CREATE SET v.value = 0 "
            "MERGE (h:Meta {key: 'history_id'}) ON CREATE SET h.value = 0",
            schema=SCHEMA_VERSION,
        )

    def close(self) -> None:
        self._driver.close()
