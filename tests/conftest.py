"""Shared fixtures: the real spaCy pipeline and the real embedding model, loaded once per session."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import hippograph
from hippograph import Memory
from hippograph.embed import LocalEmbedder
from hippograph.extract import SpacyExtractor

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
# Ingest settings that write every kind of record (fact and entity vectors, synonymy edges),
# so that store tests cover all tables; queries keep the default retrieval settings.
EVERY_RECORD = hippograph.Config(synonym_threshold=0.8, fact_weight=0.1)


def pytest_addoption(parser):
    parser.addoption(
        "--fault-seeds",
        type=int,
        default=2,
        metavar="N",
        help="random kill points the crash tests try for each kind of work (default 2, as in CI; "
        "more for a longer hunt, e.g. --fault-seeds 20)",
    )


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory) -> Path:
    """The user's cache folder (saved graph views, LLM calls) of every test and the processes it
    starts: a folder of the session, never the cache of whoever runs the tests."""
    folder = tmp_path_factory.mktemp("user-cache")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    return folder


def write_jsonl(path: Path, records: list) -> Path:
    """Write records as a JSONL file (one object a line) and return its path."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def bolt_server(tmp_path_factory):
    """A real Bolt server (ArcadeDB, see bolt_server.py) for the whole session; tests take a
    database of their own with `bolt_server.new_database()`."""
    pytest.importorskip("arcadedb_embedded", reason="arcadedb-embedded is not installed (pip install -e '.[dev]')")
    from .bolt_server import BoltServer

    with BoltServer(tmp_path_factory.mktemp("bolt")) as server:
        yield server


@pytest.fixture(scope="session")
def extractor() -> SpacyExtractor:
    return SpacyExtractor()


@pytest.fixture
def make_memory(tmp_path, embedder, extractor):
    """Open (or reopen) a Memory on a real SQLite file under the test's tmp folder."""
    opened: list[Memory] = []

    def open_memory(name: str = "store") -> Memory:
        memory = Memory(tmp_path / name, embedder=embedder, extractor=extractor)
        opened.append(memory)
        return memory

    yield open_memory
    for memory in opened:
        memory.close()


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, embedder, extractor) -> Path:
    """A store with the shipped sample corpus ingested once; tests copy it before writing."""
    folder = tmp_path_factory.mktemp("sample") / "store"
    with Memory(folder, EVERY_RECORD, embedder=embedder, extractor=extractor) as memory:
        memory.ingest(hippograph.sample_corpus(), progress=False)
    return folder


@pytest.fixture
def sample_memory(sample_store, tmp_path, embedder, extractor):
    """A private copy of the sample store, free to change."""
    folder = tmp_path / "sample"
    shutil.copytree(sample_store, folder)
    with Memory(folder, embedder=embedder, extractor=extractor) as memory:
        yield memory
