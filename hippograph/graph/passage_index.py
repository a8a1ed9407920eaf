"""The passages nearest a question in a large namespace, found through an HNSW graph (usearch)
instead of comparing the question with every passage vector.

The graph is keyed by a hash of each passage's id, so it outlives a view: GraphViews keeps one per
namespace, follows each view kept up to date (new passages added, deleted ones removed) and saves
it beside the store with the version of the graph it holds. A process opening the store maps it
into memory (read into memory only when it first changes) and adds what was written since from the
store's change log; it is built again only when the log no longer reaches back that far.

An ingest links notes through an HNSW graph of its own (embed/neighbours.py, the same settings
over the same vectors). When the memory closes and no other write came between its writes, that
graph is saved as the passage index (`PassageIndexes.adopt`): the first open after a bulk import
builds nothing (at 1,000,000 passages, building took 8.5 minutes).

Candidates come out of the graph approximately (the settings found 95% of the 33 nearest of
clustered vectors, tests/test_passage_index.py checks it against the exact search) and are then
scored exactly, so a passage's seed weight is the same as with the exact search whenever it is
among the candidates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..embed.neighbours import NeighbourIndex, hnsw_graph
from ..store.base import Store
from ..store.graph_data import GraphData, GraphVersion
from .pointer import point

if TYPE_CHECKING:
    from .view import GraphView

__all__ = ["PassageIndex", "PassageIndexes", "passage_key"]

log = logging.getLogger(__name__)


def passage_key(passage_id: str) -> int:
    """A passage's key in the graph: 63 bits of a hash of its id (two ids of a million share one
    with a probability of about 1e-7; a passage whose key another holds is then not found)."""
    return int.from_bytes(hashlib.blake2b(passage_id.encode(), digest_size=8).digest(), "little") >> 1


class _Graph:
    """The HNSW graph the PassageIndex objects of one namespace share, with the lock that lets one
    call into it at a time (searches run outside GraphViews' lock). A graph mapped from a saved
    file (`mapped_from`) is read-only: it is copied into memory the first time it changes (from
    the mapping, which outlives the file should another process's save delete it)."""

    def __init__(self, index, mapped_from: Path | None = None) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.mapped_from = mapped_from

    def writable(self):
        """The graph, copied into memory first if it is still mapped (call under `lock`)."""
        if self.mapped_from is not None:
            self.index = self.index.copy()
            self.mapped_from = None
        return self.index


class PassageIndex:
    """An HNSW graph of one namespace's live passage vectors, and each key's slot in the view
    lineage it follows. Views read afresh get a PassageIndex of their own over the same graph, so
    a query still running on an older view reads slots of its own numbering."""

    def __init__(self, graph: _Graph, slots: dict[int, int], version: GraphVersion) -> None:
        self._graph = graph
        self._slots = slots  # passage key -> slot in the views followed
        self.version = version  # the state of the store the graph holds

    @classmethod
    def built(cls, data: GraphData) -> PassageIndex:
        """The graph of data's live passages, added one at a time (the same graph every time)."""
        index = cls(_Graph(hnsw_graph(data.passage_vectors.shape[1])), {}, data.version)
        index._slots = index._put(data, np.flatnonzero(data.passage_alive))
        return index

    def nearest(self, data: GraphData, query: np.ndarray, count: int) -> np.ndarray:
        """The slots of (about) the `count` live passages of `data` nearest `query`."""
        if count <= 0 or not len(self._slots):
            return np.zeros(0, dtype=np.int64)
        with self._graph.lock:
            graph = self._graph.index
            graph.expansion_search = max(count, 64)  # 1,000 of 100,000 in 5.5 ms (11 ms at 2 x count)
            found = graph.search(np.asarray(query, dtype=np.float32), count, threads=1)
        slots = np.array([self._slots.get(key, -1) for key in found.keys.tolist()], dtype=np.int64)
        slots = slots[(slots >= 0) & (slots < len(data.passage_ids))]  # a view older than the graph
        return slots[data.passage_alive[slots]]

    def follow(self, old: GraphData, new: GraphData) -> None:
        """Change the graph from `old`'s passages to `new`'s: `new` is `old` kept up to date (its
        slots are old's, dead ones and new ones at the end)."""
        before = len(old.passage_ids)
        gone = [
            passage_key(old.passage_ids[slot])
            for slot in np.flatnonzero(old.passage_alive & ~new.passage_alive[:before]).tolist()
        ]
        if gone:
            with self._graph.lock:
                self._graph.writable().remove(np.array(gone, dtype=np.uint64))
            for key in gone:
                self._slots.pop(key, None)
        self._slots.update(self._put(new, before + np.flatnonzero(new.passage_alive[before:])))
        self.version = new.version

    def caught_up(self, store: Store, namespace: str, data: GraphData) -> PassageIndex | None:
        """This graph (of this store, at `self.version`) brought to `data`, a view read afresh, by
        the passages the change log says were written since, with data's slots; None when the log
        cannot say (the graph is then to be built again)."""
        index = PassageIndex(self._graph, {}, data.version)
        live = np.flatnonzero(data.passage_alive).tolist()
        index._slots = {passage_key(data.passage_ids[slot]): slot for slot in live}
        if self.version != data.version:
            delta = store.passage_changes(namespace, dataclasses.replace(data, version=self.version))
            if delta is None:
                return None
            changed = [
                passage_key(p) for p in sorted({row[0] for row in delta.passages} | delta.gone.get("passage", set()))
            ]
            if changed:
                with self._graph.lock:
                    self._graph.writable().remove(np.array(changed, dtype=np.uint64))
            index._put(data, np.array([index._slots[key] for key in changed if key in index._slots], dtype=np.int64))
        return index

    def _put(self, data: GraphData, slots: np.ndarray) -> dict[int, int]:
        """Add data's passages at `slots` to the graph (replacing a key it holds: a passage written
        again; of two passages with one key, the first), and return their keys' slots."""
        if not len(slots):
            return {}
        keys, first = np.unique(
            np.array([passage_key(data.passage_ids[slot]) for slot in slots.tolist()], dtype=np.uint64),
            return_index=True,
        )
        slots = slots[first]
        with self._graph.lock:
            graph = self._graph.writable()
            graph.remove(keys)
            graph.add(keys, data.passage_vectors[slots], threads=1)
        return dict(zip(keys.tolist(), slots.tolist()))

    def save(self, path: Path) -> None:
        """Write the graph under a name of its own version, then point `path` (a small JSON file)
        at it in one step (graph/pointer.py): two processes saving at once leave one whole graph
        and its version."""
        path.parent.mkdir(parents=True, exist_ok=True)
        version = _version_fields(self.version)
        nonce = uuid.uuid4().hex[:8]
        with self._graph.lock:
            mapped = self._graph.mapped_from
            if mapped is not None and mapped.parent == path.parent and mapped.exists():
                name = mapped.name  # unchanged since it was loaded: only its version moved on
            else:
                name = f"{path.stem}-{self.version.change_seq}-{nonce}.usearch"
                self._graph.writable().save(str(path.parent / name))
        point(path, {**version, "file": name, "files": [name]}, f"{path.stem}-*.usearch")

    @classmethod
    def loaded(cls, path: Path, data: GraphData) -> PassageIndex | None:
        """The graph `path` points at if it is one of data's store and vectors (with no slots yet:
        see `caught_up`); None when there is none, or it is unreadable, or of another store."""
        from usearch.index import Index

        try:
            saved = json.loads(path.read_text())
            version = GraphVersion(saved["token"], saved["store_id"], saved["change_seq"])
            graph = Index.restore(str(path.parent / saved["file"]), view=True)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as err:
            if path.exists():
                log.warning("cannot read the passage index %s (%s); building it again", path, err)
            return None
        if graph is None or version.store_id != data.version.store_id or graph.ndim != data.passage_vectors.shape[1]:
            return None
        return cls(_Graph(graph, path.parent / saved["file"]), {}, version)


def _version_fields(version: GraphVersion) -> dict:
    return {"token": version.token, "store_id": version.store_id, "change_seq": version.change_seq}


class PassageIndexes:
    """The passage index of each large namespace of one store, following its current view, and
    saved in the store's `index_folder` when built and when the memory closes."""

    def __init__(self, store: Store, approximate_from: int) -> None:
        self._store = store
        self._approximate_from = approximate_from
        self._indexes: dict[str, PassageIndex] = {}
        self._unsaved: set[str] = set()

    def attach(self, store: Store, namespace: str, view: GraphView, before: GraphData | None) -> None:
        """Give `view` its namespace's index: `before`'s index followed to it (`before` the data of
        the view it was kept up to date from), or, for a view read afresh, the index saved or kept
        in memory brought up to date from the change log, or one built anew. Read through `store`."""
        if view.live_passages < self._approximate_from:
            self._indexes.pop(namespace, None)
            return
        index = self._indexes.get(namespace)
        if index is not None and before is not None:
            index.follow(before, view.data)
        else:
            index = self._reopened(store, namespace, view.data, index)
        self._indexes[namespace] = view.passage_index = index
        self._unsaved.add(namespace)

    def adopt(self, namespace: str, notes: NeighbourIndex, version: int) -> None:
        """Save the HNSW graph an ingest linked `namespace`'s notes with as its passage index: it
        has the same settings and vectors (embed/neighbours.py), so the first view read
        afterwards need not build one. Only where no index of the namespace is kept here (one
        that is follows every write itself), the namespace is large enough to have one, and
        the store is still at `version`, whose live notes `notes` holds exactly. `notes` hands
        its graph over."""
        path = self._path(namespace)
        if path is None or self._store.read_only or namespace in self._indexes or len(notes) < self._approximate_from:
            return
        if self._store.version() != version:
            return
        graph_version = self._store.graph_version(namespace)
        if self._store.version() != version:  # a write came between the two reads
            return
        graph = notes.take_graph(passage_key)
        if graph is not None:
            PassageIndex(_Graph(graph), {}, graph_version).save(path)
            log.info("saved the note graph of %r (%d passages) as its passage index", namespace, len(graph))

    def forget(self, namespace: str) -> None:
        """Drop the namespace's index (an attach that failed may have left it half changed)."""
        self._indexes.pop(namespace, None)
        self._unsaved.discard(namespace)

    def _reopened(self, store: Store, namespace: str, data: GraphData, index: PassageIndex | None) -> PassageIndex:
        path = self._path(namespace)
        if index is None and path is not None:
            index = PassageIndex.loaded(path, data)
        if index is not None and (index := index.caught_up(store, namespace, data)) is not None:
            return index
        started = time.perf_counter()
        index = PassageIndex.built(data)
        log.info(
            "built the passage index of %r (%d passages) in %.1f s",
            namespace,
            len(data.passage_ids),
            time.perf_counter() - started,
        )
        if path is not None and not store.read_only:
            index.save(path)
        return index

    def save(self) -> None:
        """Save the indexes changed since they were saved (none on a read-only store)."""
        if self._store.read_only:
            return
        for namespace in sorted(self._unsaved):
            path = self._path(namespace)
            if path is not None and namespace in self._indexes:
                self._indexes[namespace].save(path)
        self._unsaved.clear()

    def _path(self, namespace: str) -> Path | None:
        folder = self._store.index_folder
        if folder is None:
            return None
        return folder / f"passages-{hashlib.sha1(namespace.encode()).hexdigest()[:16]}.json"
