"""The parent's side of worker.py: start a worker on a store, wait until it is ready, and check a
store file with SQLite's own checks afterwards."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from hippograph.store.sqlite import STORE_FILE

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_S = 180  # loading torch and the models, on a busy 2-core machine


def start_worker(work: str, store: Path, *arguments: str) -> subprocess.Popen:
    """`python -m tests.reliability.worker WORK STORE ARGUMENTS...`, its output piped."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.worker", work, str(store), *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPOSITORY)


def wait_ready(process: subprocess.Popen) -> None:
    """Until the worker has loaded its models and printed "ready" (AssertionError if it never does)."""
    ready = threading.Event()
    threading.Thread(target=lambda: ready.set() if process.stdout.readline().strip() == "ready" else None,
                     daemon=True).start()
    if not ready.wait(STARTUP_S):
        process.kill()
        raise AssertionError(f"the worker never got ready: {process.communicate()[1][-2000:]}")


def sqlite_problems(store: Path) -> list[str]:
    """What SQLite's own checks find wrong with the file (after recovering its write-ahead log)."""
    db = sqlite3.connect(store / STORE_FILE)
    try:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
        foreign = [f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check")]
    finally:
        db.close()
    return ([] if integrity == ["ok"] else integrity) + foreign
