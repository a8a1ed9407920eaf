"""Serving one store to many threads: writes take turns on one memory, reads run at once on others."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import Config
from ..embed.local import LocalEmbedder
from ..errors import ReadOnlyStore
from ..extract.spacy_extractor import SpacyExtractor
from ..memory import Memory

__all__ = ["MemoryPool"]


class MemoryPool:
    """Memories over one store for a server's threads.

    A `Memory` is used by one thread at a time. A pool keeps one memory for writes, which take
    turns under a lock (a store has one writer at a time anyway), and up to `readers` memories
    for reads, which run at once, each with its own graph view (a view notices another memory's
    write at its next query). Every memory shares the pool's models, so they load once.

    >>> pool = MemoryPool.open("./mem")
    >>> with pool.writing() as memory:
    ...     note = memory.add("Mira Holt was born in Veloria.")
    >>> with pool.reading() as memory:
    ...     hits = memory.query("Where was Mira Holt born?")
    >>> pool.close()
    """

    def __init__(self, open_memory: Callable[[], Memory], *, readers: int = 4, read_only: bool = False) -> None:
        if readers < 1:
            raise ValueError(f"a pool needs at least one reader, not {readers}")
        self._open_memory = open_memory
        self._writer = open_memory()  # opened now: a store that cannot be opened fails at start, not at a request
        self.read_only = read_only or self._writer.read_only  # a folder that cannot be written is read-only
        self._write_lock = threading.Lock()
        self._opened = [self._writer]
        self._idle: queue.LifoQueue[Memory] = queue.LifoQueue()
        if self.read_only:  # no writes will come: the writer's memory serves reads too
            self._idle.put(self._writer)
        self._reader_slots = threading.BoundedSemaphore(readers)
        self._open_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        store: str | Path,
        config: Config | None = None,
        *,
        readers: int = 4,
        read_only: bool = False,
        warm_up: bool = True,
    ) -> MemoryPool:
        """A pool over the store at a folder or graph server URI, its memories sharing the
        default models. `read_only` opens the store read-only (so no store that is not there yet);
        `warm_up` loads the embedding model now, so that the first request does not wait for it."""
        config = config or Config()
        embedder = LocalEmbedder(config.embedding_model, config.embedding_batch_size)
        extractor = SpacyExtractor(config.spacy_model, processes=config.extract_processes)
        pool = cls(
            lambda: Memory(store, config, embedder=embedder, extractor=extractor, read_only=read_only),
            readers=readers,
            read_only=read_only,
        )
        if warm_up:
            embedder.embed(["warm up"])
        return pool

    @contextmanager
    def reading(self) -> Iterator[Memory]:
        """A memory for reads only, for the time of the `with` block."""
        with self._reader_slots:
            try:
                memory = self._idle.get_nowait()
            except queue.Empty:
                memory = self._open_reader()
            try:
                yield memory
            finally:
                self._idle.put(memory)

    @contextmanager
    def writing(self) -> Iterator[Memory]:
        """The memory that writes, for the time of the `with` block; other writers wait."""
        if self.read_only:
            raise ReadOnlyStore("this store is served read-only: no writes")
        with self._write_lock:
            yield self._writer

    def close(self) -> None:
        for memory in self._opened:
            memory.close()

    def _open_reader(self) -> Memory:
        with self._open_lock:
            memory = self._open_memory()
            self._opened.append(memory)
            return memory
