"""A persistent cache of model calls, so that extracting the same passage again costs nothing.

One SQLite file. The key is a hash of (endpoint, model and temperature; prompt version; the
messages sent): another model or a changed prompt misses the cache, the same passage through
the same prompt and model hits it.
Only parsed, valid results are stored, so a failure is retried next time. The file also
remembers which structured-output form each model's server took, so that a new process does
not probe the forms that server rejects again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..ids import content_hash


class CallCache:
    """Results of model calls by key; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                "prompt TEXT NOT NULL, result TEXT NOT NULL, created_at TEXT NOT NULL)"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS formats (model TEXT PRIMARY KEY, format TEXT NOT NULL)")
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the LLM call cache {self.path}: {err}") from err

    @staticmethod
    def key(model: str, prompt_version: str, text: str) -> str:
        """`model` identifies who answers (endpoint, model name, temperature)."""
        return content_hash("llm-call", model, prompt_version, text)

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, model: str, prompt_version: str, result: Any) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, model, prompt, result, created_at) VALUES (?, ?, ?, ?, ?)",
                (key, model, prompt_version, json.dumps(result, ensure_ascii=False), now),
            )

    def response_format(self, model: str) -> str | None:
        """The structured-output form that last worked for `model` (endpoint, name, temperature)."""
        with self._lock:
            row = self._db.execute("SELECT format FROM formats WHERE model = ?", (model,)).fetchone()
        return row[0] if row else None

    def remember_format(self, model: str, form: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO formats VALUES (?, ?)", (model, form))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
