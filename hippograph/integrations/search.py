"""What the framework retrievers share: the memory they search, one query at a time, and the
metadata a hit carries into a framework's documents."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..memory import METHODS, Memory, Time
from ..retrieve.search import Method
from ..types import Hit, Hits

__all__ = ["Method", "MemorySearch", "hit_metadata"]


class MemorySearch:
    """The memory behind a retriever: the one given, or the store at `store` opened for reading.

    A `Memory` serves one thread at a time, and frameworks run retrievers from worker threads
    (LangChain's async calls, LlamaIndex's async engines); queries take turns here.
    """

    def __init__(self, memory: Memory | None, store: str | Path | None) -> None:
        if (memory is None) == (store is None):
            raise ConfigError("give a retriever a memory=Memory(...) or a store='folder or URI', not both or neither")
        self.memory = memory if memory is not None else Memory(store, create=False)
        self._turn = threading.Lock()

    @staticmethod
    def check(k: int, method: str) -> None:
        """Refuse a retriever's settings that every query would refuse, when it is built."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a whole number of at least 1, not {k!r}")
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")

    def hits(
        self,
        query: str,
        *,
        k: int,
        namespace: str | None,
        method: str,
        since: Time | None,
        until: Time | None,
        as_of: Time | None,
    ) -> Hits:
        with self._turn:
            return self.memory.query(
                query, k, method=method, namespace=namespace, since=since, until=until, as_of=as_of
            )


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A hit's metadata as plain JSON values: id, document_id, title, score, time and the
    explanation (method, why, question entities, seed facts and entities, path)."""
    return {
        "id": hit.id,
        "document_id": hit.document_id,
        "title": hit.title,
        "score": hit.score,
        "time": hit.time,
        "explanation": hit.explanation.to_dict(),
    }
