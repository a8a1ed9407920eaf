"""The parent's side of worker.py: start a worker on a store, wait until it is ready, and check a
store file with SQLite's own checks afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from hippograph.store.sqlite import STORE_FILE

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_S = 180  # loading torch and the models, on a busy 2-core machine


_STARTED: list[subprocess.Popen] = []


def kill_leftovers() -> None:
    """Kill the workers still running (a test that failed halfway leaves its reader querying)."""
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def start_worker(work: str, store: Path, *arguments: str) -> subprocess.Popen:
    """`python -m tests.reliability.worker WORK STORE ARGUMENTS...`, its standard output piped and
    its standard error in a temporary file (a pipe no one reads could fill and block it)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
    }
    errors = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.worker", work, str(store), *arguments],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env=env,
        cwd=REPOSITORY,
    )
    process.errors = errors  # read by `finish`
    _STARTED.append(process)
    return process


def finish(process: subprocess.Popen, timeout_s: float = 600) -> dict:
    """Wait for a worker and return what its last line says (AssertionError with its standard
    error when it failed). Read through the same buffered reader as `wait_ready`: that one may
    already hold the last line."""
    out = process.stdout.read()
    process.wait(timeout=timeout_s)
    process.errors.seek(0)
    assert process.returncode == 0 and out.strip(), process.errors.read()[-3000:]
    return json.loads(out.strip().splitlines()[-1])["done"]


def wait_ready(process: subprocess.Popen) -> None:
    """Until the worker has loaded its models and printed "ready" (AssertionError if it never does)."""
    ready = threading.Event()
    threading.Thread(
        target=lambda: ready.set() if process.stdout.readline().strip() == "ready" else None, daemon=True
    ).start()
    if not ready.wait(STARTUP_S):
        process.kill()
        process.wait()
        process.errors.seek(0)
        raise AssertionError(f"the worker never got ready: {process.errors.read()[-2000:]}")


def sqlite_problems(store: Path) -> list[str]:
    """What SQLite's own checks find wrong with the file (after recovering its write-ahead log)."""
    db = sqlite3.connect(store / STORE_FILE)
    try:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
        foreign = [
            f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check")
        ]
    finally:
        db.close()
    return ([] if integrity == ["ok"] else integrity) + foreign
