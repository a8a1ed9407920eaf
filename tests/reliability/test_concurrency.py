"""Several writer processes and a reader on one store at once: nothing is lost or stored twice,
the reader never fails, and each writer's report counts what it added, not what the others did."""

from __future__ import annotations

import dataclasses

import hippograph
from hippograph import Memory

from ..invariants import dangling, records
from . import worker
from .children import finish, sqlite_problems, start_worker, wait_ready

WRITERS = 3
COUNTS = ("documents", "passages", "entities", "facts", "mentions")  # not links: they depend on the order of writes


def test_writers_and_a_reader_at_once_lose_nothing_and_count_their_own(tmp_path, embedder, extractor):
    corpus = hippograph.sample_corpus()
    with Memory(tmp_path / "alone", worker.CONFIG, embedder=embedder, extractor=extractor) as alone:
        alone.ingest(worker.documents(worker.corpus(corpus)), progress=False)
        expected = dataclasses.asdict(alone.stats())
    store = tmp_path / "store"
    with Memory(store, worker.CONFIG, embedder=embedder, extractor=extractor) as memory:  # something to read at once
        memory.ingest(["Mira Holt was born in Veloria."], namespace="other", progress=False)

    stop = tmp_path / "stop"
    reader = start_worker("read", store, "--until", str(stop))
    writers = [
        start_worker("ingest", store, "--corpus", str(corpus), "--part", f"{i}/{WRITERS}") for i in range(WRITERS)
    ]
    for process in (reader, *writers):
        wait_ready(process)
    reports = [finish(process) for process in writers]
    stop.touch()
    assert finish(reader, 120) > 0  # it queried while the writers wrote

    assert sqlite_problems(store) == []
    with Memory(store, worker.CONFIG, embedder=embedder, extractor=extractor) as memory:
        stats = dataclasses.asdict(memory.stats("default"))
        assert memory.stats("other").documents == 1
        assert dangling(records(memory)) == []
    assert {c: stats[c] for c in COUNTS} == {c: expected[c] for c in COUNTS}
    assert sum(r["added"] for r in reports) == expected["documents"]
    assert sum(r["entities"] for r in reports) == stats["entities"]  # each counted by the writer that added it
    assert sum(r["facts"] for r in reports) == stats["facts"]
