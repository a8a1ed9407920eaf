"""The graph server store when its server dies: a real Bolt server (ArcadeDB, tests/bolt_server.py)
is killed with SIGKILL in the middle of an ingest and of queries, then started again on the
same databases.

- Down for longer than the store retries: the ingest stops with a StoreError naming the server,
  no partial batch is visible, and running the ingest again ends where a clean ingest ends.
- Back within the retry time: reads and writes are retried through the driver's managed
  transactions, the ingest completes, and no write is applied twice.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

import hippograph
from hippograph import Memory, StoreError
from hippograph.store.bolt import BoltSettings
from hippograph.store.neo4j import Neo4jStore

from ..invariants import comparable, dangling, edges_disagreeing, records
from . import worker

QUESTION = "Where was the founder of Brightwater Labs born?"


@pytest.fixture
def server(tmp_path):
    """A Bolt server of this test's own, since the test kills it."""
    pytest.importorskip("arcadedb_embedded", reason="arcadedb-embedded is not installed (pip install -e '.[dev]')")
    from ..bolt_server import BoltServer

    root = tmp_path / "bolt"
    root.mkdir()
    with BoltServer(root) as running:
        yield running


@pytest.fixture(scope="module")
def clean(tmp_path_factory, embedder, extractor) -> list[dict]:
    """The records of the sample corpus ingested by a run nobody killed."""
    with Memory(
        tmp_path_factory.mktemp("clean") / "store", worker.CONFIG, embedder=embedder, extractor=extractor
    ) as memory:
        memory.ingest(worker.documents(worker.corpus(hippograph.sample_corpus())), progress=False)
        return comparable(records(memory))


def _memory(server, database: str, retry_seconds: float, embedder, extractor) -> Memory:
    settings = BoltSettings(server.uri, *server.auth, database=database, retry_seconds=retry_seconds)
    return Memory(config=worker.CONFIG, store=Neo4jStore(settings=settings), embedder=embedder, extractor=extractor)


def _ingest_in_background(memory: Memory) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def ingest() -> None:
        try:
            outcome["report"] = memory.ingest(
                worker.documents(worker.corpus(hippograph.sample_corpus())), progress=False
            )
        except Exception as err:  # the test looks at what it was
            outcome["error"] = err

    thread = threading.Thread(target=ingest)
    thread.start()
    return thread, outcome


def _whole(memory: Memory) -> None:
    assert dangling(records(memory)) == []
    assert edges_disagreeing(memory) == []


def test_a_server_down_mid_ingest_is_a_clear_error_and_a_rerun_completes(server, clean, embedder, extractor):
    database = server.new_database()
    memory = _memory(server, database, 3, embedder, extractor)
    thread, outcome = _ingest_in_background(memory)
    time.sleep(random.Random(1).uniform(1.0, 3.0))
    server.kill()
    thread.join(timeout=300)
    if "error" in outcome:  # the usual case; a very fast ingest may have finished before the kill
        error = outcome["error"]
        assert isinstance(error, StoreError), repr(error)
        assert str(error).startswith(f"lost the graph server {server.uri} during ") and "\n" not in str(error)
    memory.close()

    server.start()
    with _memory(server, database, 30, embedder, extractor) as again:
        assert again.stats().documents % worker.BATCH == 0  # whole batches only (36 documents: 9 batches)
        _whole(again)
        again.ingest(worker.documents(worker.corpus(hippograph.sample_corpus())), progress=False)
        assert comparable(records(again)) == clean
        _whole(again)


def test_reads_and_writes_wait_through_a_restart_and_nothing_is_written_twice(server, clean, embedder, extractor):
    database = server.new_database()
    with _memory(server, database, 180, embedder, extractor) as memory:
        memory.ingest(worker.documents(worker.corpus(hippograph.sample_corpus()))[:8], progress=False)
        before = [hit.id for hit in memory.query(QUESTION, k=5)]
        server.kill()
        threading.Timer(2.0, server.start).start()  # back while the query below is retried
        assert [hit.id for hit in memory.query(QUESTION, k=5)] == before

        thread, outcome = _ingest_in_background(memory)
        time.sleep(random.Random(2).uniform(1.0, 3.0))
        server.kill()
        server.start()
        thread.join(timeout=300)
        assert "error" not in outcome, repr(outcome.get("error"))
        assert comparable(records(memory)) == clean
        _whole(memory)
