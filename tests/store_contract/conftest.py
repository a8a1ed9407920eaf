"""The store under test: SQLite, or a real Bolt server (ArcadeDB, see tests/bolt_server.py); for
the queries that read neighbourhoods, also the Bolt server with a vector index of passages."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hippograph import Config, Memory
from hippograph.store.neo4j import Neo4jStore

from ..conftest import EVERY_RECORD

INDEXED = "bolt, vector index"  # a Bolt server whose own vector index finds the passages nearest


def memory_opener(request, tmp_path, embedder, extractor) -> Iterator[Callable[..., Memory]]:
    """Opens (and reopens, by name) a Memory on a store of the kind `request.param` names; closed
    after the test unless `keep=False` (for a memory used and closed in another thread)."""
    server = request.getfixturevalue("bolt_server") if request.param != "sqlite" else None
    databases: dict[str, str] = {}
    opened: list[Memory] = []

    def open_(name: str = "store", config: Config = EVERY_RECORD, keep: bool = True) -> Memory:
        if server is None:
            memory = Memory(tmp_path / name, config, embedder=embedder, extractor=extractor)
        else:
            if name not in databases:
                databases[name] = server.new_database()
                if request.param == INDEXED:
                    Neo4jStore(server.uri, server.auth, databases[name]).close()  # makes the Passage type
                    server.index_passage_vectors(databases[name], len(embedder.embed(["a"])[0]))
            store = Neo4jStore(server.uri, server.auth, databases[name])
            memory = Memory(config=config, store=store, embedder=embedder, extractor=extractor)
        if keep:
            opened.append(memory)
        return memory

    yield open_
    for memory in opened:
        memory.close()


@pytest.fixture(params=["sqlite", "bolt"])
def open_memory(request, tmp_path, embedder, extractor):
    yield from memory_opener(request, tmp_path, embedder, extractor)
