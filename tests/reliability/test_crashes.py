"""kill -9 anywhere in ingest, add, delete and import: the store is never corrupt, holds whole
write batches only, and running the same work again ends where a run that was never killed ends.

Each test starts a real worker process (worker.py), waits until its models are loaded, kills it
with SIGKILL at a random moment of its work, then checks the SQLite file (integrity and foreign
keys), the records (nothing dangling), and finishes the work in this process. CI tries two kill
points per kind of work; `pytest tests/reliability --fault-seeds 20` tries twenty.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

import hippograph
from hippograph import Memory
from hippograph.store.sqlite import STORE_FILE

from ..conftest import write_jsonl
from ..invariants import dangling, records
from . import worker
from .children import sqlite_problems, start_worker, wait_ready

WORKS = ("ingest", "add", "delete", "import")


def pytest_generate_tests(metafunc):
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", range(metafunc.config.getoption("fault_seeds")))


@dataclasses.dataclass
class Work:
    """One kind of work: the store it starts from, its worker's arguments, and how to do it here."""

    name: str
    start: Path | None  # a store folder to copy; None: an empty store
    arguments: list[str]
    run: object  # Memory -> None
    seconds: float = 0.0  # how long a run that is not killed takes (measured once)
    expected: dict | None = None  # the stats it ends with


def _stats(memory: Memory) -> dict:
    found = dataclasses.asdict(memory.stats())
    return {k: v for k, v in found.items() if k not in ("path", "size_bytes")}


@pytest.fixture(scope="module")
def works(sample_store, tmp_path_factory, embedder, extractor) -> dict[str, Work]:
    """Every kind of work, each done once without a crash: its end state and its duration."""
    folder = tmp_path_factory.mktemp("works")
    corpus = worker.corpus(hippograph.sample_corpus())
    half = write_jsonl(folder / "half.jsonl", corpus[: len(corpus) // 2])
    export = folder / "sample.jsonl"
    with Memory(sample_store, embedder=embedder, extractor=extractor, read_only=True) as sample:
        sample.export(export)
    found = {
        "ingest": Work(
            "ingest",
            None,
            ["--corpus", str(hippograph.sample_corpus())],
            lambda m: m.ingest(worker.documents(corpus), progress=False),
        ),
        "add": Work("add", None, ["--corpus", str(hippograph.sample_corpus())], lambda m: worker.add_notes(m, corpus)),
        "delete": Work(
            "delete",
            sample_store,
            ["--corpus", str(half)],
            lambda m: worker.delete_documents(m, corpus[: len(corpus) // 2]),
        ),
        "import": Work("import", None, ["--export", str(export)], lambda m: m.import_export(export)),
    }
    for work in found.values():
        store = _starting_store(work, folder / f"clean-{work.name}")
        with _memory(store, embedder, extractor) as memory:
            started = time.perf_counter()
            work.run(memory)
            work.seconds = time.perf_counter() - started
            work.expected = _stats(memory)
    return found


def _starting_store(work: Work, folder: Path) -> Path:
    if work.start is not None:
        shutil.copytree(work.start, folder)
    return folder


def _memory(store: Path, embedder, extractor) -> Memory:
    return Memory(store, worker.CONFIG, embedder=embedder, extractor=extractor)


@pytest.mark.parametrize("name", WORKS)
def test_a_killed_worker_leaves_whole_batches_and_a_rerun_ends_as_a_clean_run(
    name, seed, works, tmp_path, embedder, extractor
):
    work = works[name]
    store = _starting_store(work, tmp_path / "store")
    kill_after = random.Random(f"{name}-{seed}").uniform(0, 1.2 * work.seconds)
    process = start_worker(work.name, store, *work.arguments)
    wait_ready(process)
    time.sleep(kill_after)
    finished_first = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.communicate()
    where = f"{name} killed {kill_after:.2f} s into its work (seed {seed}; a clean run takes {work.seconds:.2f} s)"

    if not (store / STORE_FILE).exists():  # killed before the store file was made
        assert name != "delete", where
    else:
        assert sqlite_problems(store) == [], where
        with _memory(store, embedder, extractor) as memory:
            assert dangling(records(memory)) == [], where
            stats = _stats(memory)
            if name == "ingest":  # a batch is one transaction: whole batches or all
                assert stats["documents"] % worker.BATCH == 0 or stats == work.expected, where
            if name == "import":  # one transaction: nothing or all
                assert stats["documents"] in (0, work.expected["documents"]), where
            if finished_first:
                assert stats == work.expected, where
    with _memory(store, embedder, extractor) as memory:
        if name != "import" or memory.stats().documents == 0:
            work.run(memory)
        assert _stats(memory) == work.expected, where
        assert dangling(records(memory)) == [], where
    assert sqlite_problems(store) == [], where
