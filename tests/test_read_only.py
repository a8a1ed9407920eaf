"""Read-only opening: a snapshot or a folder this process cannot write is queried without a
single byte written to it, and every write is refused with ReadOnlyStore before any work."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hippograph import Memory, ReadOnlyStore, StoreError
from hippograph.server.pool import MemoryPool
from hippograph.server.rest import create_app
from hippograph.store.sqlite import STORE_FILE

QUESTION = "Where was the founder of Brightwater Labs born?"
HIPPOGRAPH = [sys.executable, "-m", "hippograph.cli"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def snapshot(sample_store, tmp_path) -> Path:
    """A copy of the sample store, closed cleanly (no -wal or -shm file beside it)."""
    folder = tmp_path / "snapshot"
    shutil.copytree(sample_store, folder, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    return folder


def test_a_read_only_memory_answers_reads_and_refuses_every_write(snapshot, embedder, extractor, tmp_path):
    before = _digest(snapshot / STORE_FILE)
    with Memory(snapshot, embedder=embedder, extractor=extractor, read_only=True) as memory:
        assert memory.read_only
        hits = memory.query(QUESTION, k=3)
        assert "Mira Holt" in hits[0].text
        note_id = hits[0].id
        assert memory.get(note_id).id == note_id
        assert memory.stats().documents == 36 and memory.topics() and memory.facts()
        assert memory.export(tmp_path / "out.jsonl")["passage"] == 36
        writes = {
            "ingest": lambda: memory.ingest(["Nia Park sells kites."], progress=False),
            "add": lambda: memory.add("Nia Park sells kites."),
            "update": lambda: memory.update(note_id, "Mira Holt moved away."),
            "delete_note": lambda: memory.delete_note(note_id),
            "delete": lambda: memory.delete("sample-01"),
            "delete_namespace": lambda: memory.delete_namespace("default"),
            "revert": lambda: memory.revert(1),
            "retry_failed": lambda: memory.retry_failed(progress=False),
            "import_export": lambda: memory.import_export(tmp_path / "out.jsonl"),
        }
        for write in writes.values():
            with pytest.raises(ReadOnlyStore, match="open read-only"):
                write()
        assert memory.stats().documents == 36
    assert _digest(snapshot / STORE_FILE) == before


def test_read_only_needs_an_existing_store(tmp_path, embedder, extractor):
    with pytest.raises(StoreError, match="no store at"):
        Memory(tmp_path / "missing", embedder=embedder, extractor=extractor, read_only=True)
    assert not (tmp_path / "missing").exists()


def test_a_store_served_read_only_refuses_writes_with_403(snapshot, embedder, extractor):
    from fastapi.testclient import TestClient

    pool = MemoryPool(lambda: Memory(snapshot, embedder=embedder, extractor=extractor, read_only=True))
    assert pool.read_only
    with TestClient(create_app(pool), raise_server_exceptions=False) as client:
        found = client.get("/v1/namespaces/default/search", params={"q": QUESTION, "k": 2})
        assert found.status_code == 200 and found.json()["hits"]
        refused = client.post("/v1/namespaces/default/memories", json={"text": "Nia Park sells kites."})
        assert refused.status_code == 403, refused.text
        assert "read-only" in refused.json()["detail"]
    assert client.app.state.pool is pool


def _read_only_runner(folder: Path) -> list[str] | None:
    """A command prefix that runs a command with `folder` unwritable: a read-only bind mount in a
    private mount namespace (root, as here and in CI), or the folder's write permission removed
    (another user). None when neither can be arranged."""
    if os.geteuid() != 0:
        for path in (folder, *folder.iterdir()):
            path.chmod(path.stat().st_mode & ~0o222)
        return []
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind '{folder}' '{folder}' && "
            f"mount -o remount,bind,ro '{folder}' && ! touch '{folder}/probe' 2>/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None
    script = f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' && exec \"$@\""
    return ["unshare", "-m", "sh", "-c", script, "read-only"]


def test_a_folder_that_cannot_be_written_is_opened_read_only_by_itself(snapshot):
    runner = _read_only_runner(snapshot)
    if runner is None:
        pytest.skip("cannot make a read-only folder here: root without a private mount namespace (unshare -m)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = _digest(snapshot / STORE_FILE)

    def hippograph(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*runner, *HIPPOGRAPH, *args, "--store", str(snapshot)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    query = hippograph("query", QUESTION, "-k", "2")
    assert query.returncode == 0, query.stderr
    assert "Mira Holt" in query.stdout
    add = hippograph("add", "Nia Park sells kites.")
    assert add.returncode == 1
    assert "open read-only" in add.stderr and "Traceback" not in add.stderr
    assert sorted(p.name for p in snapshot.iterdir()) == [STORE_FILE]  # not even a -shm file was made
    assert _digest(snapshot / STORE_FILE) == before
