"""The graph server's own vector index of passages, so that a query's nearest passages are found in
the server and the client keeps no passage vector (graph/neighbourhood.py).

Each Passage node keeps its vector as a list of floats in `vector`, beside the float32 bytes of its
Embedding node (which the export and the graph reads use). Where the server holds a vector index
on `Passage.vector`, found by `SHOW VECTOR INDEXES`, `nearest` asks it. Neo4j makes one with
Cypher, which the store tries at its first write (`INDEX_NAME`, cosine). ArcadeDB's Cypher
cannot make one; an administrator makes it with ArcadeDB's SQL (its HTTP API or console), and the
next process opening the store finds it:

    CREATE PROPERTY Passage.vector IF NOT EXISTS ARRAY_OF_FLOATS
    CREATE INDEX IF NOT EXISTS ON Passage (vector) LSM_VECTOR METADATA {dimensions: 384, similarity: 'COSINE'}

Both servers score a neighbour (1 + cosine) / 2; `nearest` gives the cosine. The index holds the
passages of every namespace: a query asks for more neighbours than it needs (`OVERSAMPLING`) and
keeps its namespace's.

>>> floats(np.array([0.5, -1.0], dtype=np.float32).tobytes())
[0.5, -1.0]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import StoreError

__all__ = [
    "HELD_FROM",
    "INDEX_NAME",
    "MAX_ASKED",
    "OVERSAMPLING",
    "PassageVectors",
    "create_statement",
    "find_index",
    "floats",
    "nearest",
]

log = logging.getLogger(__name__)

INDEX_NAME = "hg_passage_vector"
# Neighbours asked for, as multiples of those wanted, until the namespace's are enough: the last
# reaches a namespace holding 1/128 of the store's passages (a smaller one gets fewer seeds; the
# client ranks a namespace of a few passages itself: graph/neighbourhood.py); never more than
# MAX_ASKED.
OVERSAMPLING = (2, 16, 128)
MAX_ASKED = 10_000
# The store's schema version from which every Passage node holds its vector (neo4j.py upgrades a
# store of an earlier one, when opened for writing, by `hold_all`).
HELD_FROM = 2
_HOLD_BATCH = 2000

Read = Callable[..., list[dict]]  # read(query, **parameters) -> the result's records as dicts
Execute = Callable[..., None]  # execute(what it does, query, **parameters): one statement on its own


class PassageVectors:
    """The passage vectors of one store's server, as the store sees them: whether its index
    serves queries (looked for when first asked; a failure to ask is not remembered), its
    making, and the vectors' upkeep."""

    def __init__(self, read: Read, execute: Execute, server: str) -> None:
        self._read = read
        self._execute = execute
        self._server = server
        self._index: str | None = None
        self._looked_for = False
        self._made = False  # this process's first write tried to make one

    def searched(self) -> bool:
        """Whether the server holds a vector index of every passage's vector."""
        if not self._looked_for:
            try:
                held = self._read("MATCH (m:Meta {key: 'schema_version'}) RETURN m.value AS value")
                self._index = find_index(self._read) if held and int(held[0]["value"]) >= HELD_FROM else None
            except StoreError as err:
                log.warning("cannot ask %s for its vector index (%s); asking again later", self._server, err)
                return False
            self._looked_for = True
        return self._index is not None

    def nearest(self, namespace: str, vector: np.ndarray, count: int) -> list[tuple[str, float]]:
        """See `nearest` (StoreError when the server has no index, or cannot say)."""
        if not self.searched():
            raise StoreError(f"the graph server {self._server} holds no vector index of passages, or cannot say")
        return nearest(self._read, self._index, namespace, vector.tolist(), count)

    def make_index(self, dimension: int) -> None:
        """Make the index with Neo4j's Cypher, once a process, unless there is one; a server whose
        Cypher cannot (ArcadeDB) is told how in the log. This process's queries still search in
        the client: its views were read with their vectors. Never raises: the write it follows
        is stored."""
        if self._made:
            return
        self._made = True
        try:
            if not self.searched():
                self._execute("making a vector index", create_statement(dimension))
                self._looked_for = False  # look again
        except StoreError as err:
            log.info("%s; queries search passage vectors in the client (see hippograph/store/bolt_vectors.py)", err)

    def hold_all(self) -> None:
        """Give every Passage node that has none its vector as floats (a store of an earlier
        schema), in batches in id order."""
        after = ""
        while rows := self._read(
            "MATCH (p:Passage) WHERE p.id > $after AND p.vector IS NULL "
            "MATCH (e:Embedding {key: p.embedding_key}) WHERE e.vector IS NOT NULL "
            f"RETURN p.id AS id, e.vector AS vector ORDER BY p.id LIMIT {_HOLD_BATCH}",
            after=after,
        ):
            self._execute(
                "giving passages their vectors",
                "UNWIND $rows AS r MATCH (p:Passage {id: r.id}) SET p.vector = r.vector",
                rows=[{"id": row["id"], "vector": floats(row["vector"])} for row in rows],
            )
            after = rows[-1]["id"]


def floats(blob: bytes) -> list[float]:
    """A stored vector (float32 bytes) as the list of floats a vector index reads."""
    return np.frombuffer(blob, dtype=np.float32).tolist()


def create_statement(dimension: int) -> str:
    """Neo4j's Cypher making the index of passage vectors of `dimension` numbers (if missing)."""
    return (
        f"CREATE VECTOR INDEX {INDEX_NAME} IF NOT EXISTS FOR (n:Passage) ON (n.vector) "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimension)}, `vector.similarity_function`: 'cosine'}}}}"
    )


def find_index(read: Read) -> str | None:
    """The name of the server's online vector index on `Passage.vector`; None when it has none."""
    rows = read("SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, state RETURN *")
    for row in rows:
        if row["labelsOrTypes"] == ["Passage"] and row["properties"] == ["vector"] and row["state"] == "ONLINE":
            return row["name"]
    return None


def nearest(read: Read, index: str, namespace: str, vector: Sequence[float], count: int) -> list[tuple[str, float]]:
    """The (about) `count` passages of `namespace` nearest `vector` by the server's index `index`,
    as (id, cosine), nearest first."""
    found: list[tuple[str, float]] = []
    for times in OVERSAMPLING:
        asked = min(count * times, max(MAX_ASKED, count))
        rows = read(
            "CALL db.index.vector.queryNodes($index, $asked, $vector) YIELD node, score "
            "RETURN node.id AS id, node.namespace AS namespace, score",
            index=index,
            asked=asked,
            vector=list(vector),
        )
        found = [(row["id"], 2 * row["score"] - 1) for row in rows if row["namespace"] == namespace]
        if len(found) >= count or len(rows) < asked or asked >= MAX_ASKED:  # enough, or no more to ask
            break
    return found[:count]
