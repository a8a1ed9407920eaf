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
from ..graph.views import GraphViews
from ..memory import Memory
from ..types import Passage

__all__ = ["MemoryPool"]


class MemoryPool:
    """Memories over one store for a server's threads.

    A `Memory` is used by one thread at a time. A pool keeps one memory for writes, which take
    turns under a lock (a store has one writer at a time anyway), and `readers` memories for
    reads, which run at once (opened with the pool by `open_reader`, by default `open_memory`,
    so that no request waits for one to open). `MemoryPool.open` gives every memory the pool's
    models, so they load once, and the writer's graph views, so each namespace's graph is held
    once and brought up to date once per write (at the next query after it).

    >>> pool = MemoryPool.open("./mem")
    >>> with pool.writing() as memory:
    ...     note = memory.add("Mira Holt was born in Veloria.")
    >>> with pool.reading() as memory:
    ...     hits = memory.query("Where was Mira Holt born?")
    >>> pool.close()
    """

    def __init__(
        self,
        open_memory: Callable[[], Memory],
        *,
        readers: int = 4,
        read_only: bool = False,
        open_reader: Callable[[], Memory] | None = None,
    ) -> None:
        if readers < 1:
            raise ValueError(f"a pool needs at least one reader, not {readers}")
        self._writer = open_memory()  # opened first: a store that cannot be opened fails at start
        self.read_only = read_only or self._writer.read_only  # a folder that cannot be written is read-only
        self._write_lock = threading.Lock()
        self._idle: queue.LifoQueue[Memory] = queue.LifoQueue()
        if self.read_only:  # no writes will come: the writer's memory serves reads too
            self._idle.put(self._writer)
        self._opened = [self._writer]
        try:
            while self._idle.qsize() < readers:
                self._opened.append(memory := (open_reader or open_memory)())
                self._idle.put(memory)
        except BaseException:
            self.close()
            raise

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
        `warm_up` loads the embedding model and the spaCy pipeline now, so that the first request
        does not wait for them."""
        config = config or Config()
        embedder = LocalEmbedder(config.embedding_model, config.embedding_batch_size)
        extractor = SpacyExtractor(config.spacy_model, processes=config.extract_processes)
        shared: list[GraphViews] = []  # the writer's graph views, which the readers share

        def open_writer() -> Memory:
            memory = Memory(store, config, embedder=embedder, extractor=extractor, read_only=read_only)
            shared.append(memory.graph_views)
            return memory

        def open_reader() -> Memory:  # read-only: opening one never waits for a write
            return Memory(store, config, embedder=embedder, extractor=extractor, read_only=True, graph_views=shared[0])

        pool = cls(open_writer, readers=readers, read_only=read_only, open_reader=open_reader)
        if warm_up:
            embedder.embed(["warm up"])
            extractor.extract([Passage("warm-up", "warm-up", 0, "", "Models load before the first request.")])
        return pool

    @contextmanager
    def reading(self) -> Iterator[Memory]:
        """A memory for reads only, for the time of the `with` block (waiting for one to be free)."""
        memory = self._idle.get()
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
        for memory in reversed(self._opened):  # the writer last: its connection can fold the WAL into the file
            memory.close()
