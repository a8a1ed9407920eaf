"""How the SQLite store opens its file and writes to it: connections (read-only ones too, even
where the folder cannot be written), the WAL's settings, and transactions (BEGIN … COMMIT, or
ROLLBACK on any error) whose errors say what a user can do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Generic, TypeVar

from ..errors import StoreBusy, StoreError

__all__ = ["Transaction", "connect_read_only", "connect_writable", "end_bulk_writes", "writable"]

# SQLite's default page cache is 2 MB: a large store's indexes would be read from the OS again and
# again. 64 MB (filled as pages are read, not reserved up front) holds their upper levels.
_CACHE_SIZE = "PRAGMA cache_size=-65536"
# A checkpoint copies the pages the WAL holds into the database file and syncs it. A large store's
# ingest batch changes tens of thousands of pages (hash keys land all over its indexes), and
# SQLite's default checkpoint after every 1,000 pages made each batch's commit copy all of them:
# 20,000 notes into a 1,000,000 store spent 9 s of 29 in commits. During bulk writes the WAL may
# grow to this share of the database before a checkpoint (5.4 s of 26.7 then); after them it is
# checkpointed, since reading pages through the WAL made MuSiQue's queries 5% slower.
_WAL_SHARE = 0.25
_WAL_DEFAULT_PAGES = 1000
_WAL_KEPT_BYTES = 64 * 2**20
_BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to finish
log = logging.getLogger(__name__)
R = TypeVar("R")


def writable(path: Path) -> bool:
    """Whether this process may write the store file at `path` and the folder it is in (False on
    a read-only file system too, also for root)."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def connect_writable(path: Path) -> sqlite3.Connection:
    """A connection that writes the file at `path` (made if missing) through a WAL."""
    db = _connect(str(path))
    db.execute(_CACHE_SIZE)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA journal_size_limit={_WAL_KEPT_BYTES}")  # the WAL file shrinks after a checkpoint
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A WAL store needs its -shm file to be readable by a
    read-only connection, and SQLite cannot make one in a folder it may not write: there the
    file is opened as immutable (no process can change it on such a folder anyway)."""
    location = f"file:{urllib.parse.quote(str(path.resolve()), safe='/')}"
    db = _connect(f"{location}?mode=ro", uri=True)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        if writable(path):
            raise
        log.info("%s: no shared-memory file and the folder cannot be written; reading the file as immutable", path)
        db = _connect(f"{location}?immutable=1", uri=True)
    db.execute(_CACHE_SIZE)
    return db


def end_bulk_writes(db: sqlite3.Connection) -> None:
    """After bulk writes (`Transaction(bulk=True)`): the WAL is checkpointed as usual again, and
    now, so that readers read the database file. This is upkeep: a store closed or busy meanwhile
    must not hide how the writes ended, so its errors are ignored."""
    with contextlib.suppress(sqlite3.Error):
        db.execute(f"PRAGMA wal_autocheckpoint={_WAL_DEFAULT_PAGES}")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    # A connection may move between threads (a server's pool lends it to one at a time).
    db = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
    db.execute("PRAGMA foreign_keys=ON")
    return db


class Transaction(Generic[R]):
    """BEGIN … COMMIT, or ROLLBACK on any error; entering gives `records`, the store's reads and
    writes on `db`. A write transaction (`write=True`) bumps the store version on commit; a bulk
    one lets the WAL grow to a share of the database before a checkpoint. SQLite's own errors
    become a StoreError saying what to do."""

    def __init__(self, db: sqlite3.Connection, path: Path, records: R, *, write: bool, bulk: bool = False) -> None:
        self._db = db
        self._bulk = bulk
        self._path = path
        self._write = write
        self._records = records

    def __enter__(self) -> R:
        try:
            self._db.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except sqlite3.OperationalError as err:
            raise StoreBusy(f"{self._path} is busy ({err}); another process is writing, try again") from None
        return self._records

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                if self._write:
                    self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
                if self._bulk:
                    pages = self._db.execute("PRAGMA page_count").fetchone()[0]
                    self._db.execute(f"PRAGMA wal_autocheckpoint={max(_WAL_DEFAULT_PAGES, int(pages * _WAL_SHARE))}")
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as err:
                self._rollback()
                raise StoreError(f"could not commit to {self._path}: {err}; nothing of this batch was stored") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"{self._path}: {exc}; nothing of this batch was stored") from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
