"""The graph views a memory queries: one per namespace (and one `as_of` time), read from the
store on first use (or loaded as a process before saved it, graph/view_cache.py) and then kept up
to date by what each write touched (graph/delta.py)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..config import Config
from ..embed.neighbours import NeighbourIndex
from ..errors import HippographError
from ..store.base import Store
from ..store.graph_data import GraphData
from .delta import Slots, updated
from .lexical_index import LexicalIndex
from .passage_index import PassageIndexes
from .view import GraphView
from .view_cache import ViewCache, default_view_folder

__all__ = ["GraphViews"]

log = logging.getLogger(__name__)

# A view whose dead nodes are more than this share of its slots is read again from the store.
MAX_DEAD_SHARE = 0.25
# Empty entity slots a view read from the store gets, as a share of its entities (and at least
# MIN_ROOM): new entities fill them; when they are full the view is read again.
ROOM_SHARE = 0.05
MIN_ROOM = 256
# Queries a view serves with a delta pending in its adjacency (each a little slower than on an
# assembled one) before the adjacency is assembled again: a few milliseconds on a MuSiQue-sized
# graph, paid once a run of reads has cost about as much.
READS_BEFORE_ASSEMBLY = 8


@dataclass
class _Kept:
    view: GraphView
    known_slots: Slots | None = None  # where the view's nodes and facts are; None: not worked out yet
    reads: int = 0  # queries served while its adjacency had a delta pending

    @property
    def slots(self) -> Slots:
        """Worked out from the view when first needed (a view loaded, or an `as_of` one, may never be)."""
        if self.known_slots is None:
            self.known_slots = Slots.of(self.view.data)
        return self.known_slots


class GraphViews:
    """The views of one store's namespaces. A write to a namespace, by any memory or process, is
    applied to its view at the next `get` by reading only the records the write touched (the
    store's change log); writes to other namespaces leave it as it is. Only the latest `as_of`
    view is kept beside the current ones (a time is rarely asked twice). Memories of one store may
    share one GraphViews (a server's pool does), each reading through its own connection: one
    view per namespace, brought up to date once per write."""

    def __init__(self, store: Store, config: Config, *, passages_only: bool = False) -> None:
        self._store = store
        self._config = config
        self.passages_only = passages_only  # views of the passages alone (graph/neighbourhood.py)
        # ... and without their vectors, where the store finds the nearest itself (looked for once:
        # an index made later serves the next process)
        self.vectors_in_store = passages_only and store.searches_passages()
        self._whole: GraphViews | None = None  # beside views of the passages alone: the whole graphs
        self._kept: dict[tuple[str, str | None], _Kept] = {}
        self._lock = threading.Lock()  # one update of a view at a time; queries read views freely
        self._passage_indexes = PassageIndexes(store, config.approximate_from_passages)
        self._saved_views = (
            self._view_cache(store, self.vectors_in_store) if config.save_views_from is not None else None
        )
        self._saved: dict[str, int] = {}  # namespace -> the change_seq of its view saved or loaded
        self._lexical: dict[str, LexicalIndex] = {}  # for a store without a full-text index

    def _view_cache(self, store: Store, without_vectors: bool) -> ViewCache | None:
        """Where views of these kinds (of the passages alone, `without_vectors` or with) are saved."""
        place = str(store.path.resolve()) if isinstance(store.path, Path) else str(store.path)
        if self.passages_only:
            place += " (passages without vectors)" if without_vectors else " (passages)"
        try:
            return ViewCache(default_view_folder(), place, self._edge_weights())
        except (OSError, RuntimeError) as err:  # no source to hash (a frozen app), no home folder
            log.warning("graph views are not saved between processes: %s", err)
            return None

    def get(self, namespace: str, as_of: str | None = None, *, store: Store | None = None) -> GraphView:
        """The namespace's graph view (as it was at `as_of`), up to date with every write; read
        through `store` (a connection to the same store; by default the one given at creation)."""
        store = store or self._store
        token = store.namespace_version(namespace)
        kept = self._kept.get((namespace, as_of))
        if kept is not None and kept.view.data.version.token == token:
            if len(kept.view.adjacency.delta_weights):
                kept.reads += 1
                if kept.reads >= READS_BEFORE_ASSEMBLY:
                    with self._lock:
                        self._assembled(namespace, kept)
            return kept.view
        with self._lock:
            current = self._current(store, namespace, token)
            if as_of is None:
                return current.view
            view = GraphView.build(current.view.data.as_of(as_of), *self._edge_weights())
            self._kept = {key: value for key, value in self._kept.items() if key[1] is None}
            self._kept[(namespace, as_of)] = _Kept(view)
            return view

    def _current(self, store: Store, namespace: str, token: str) -> _Kept:
        kept = self._kept.get((namespace, None)) or self._loaded(store, namespace)
        if kept is not None and kept.view.data.version.token == token:
            return kept
        view = None
        if kept is not None:
            view = self._updated(store, namespace, kept)
            if view is not None:
                self._attach_index(store, namespace, view, kept.view.data)
        if view is None:
            self._kept.pop((namespace, None), None)  # its slots may be changed: never apply to it again
            if self.passages_only:
                data = store.passage_data(namespace, vectors=not self.vectors_in_store)
            else:
                data = store.graph_data(namespace)
            if self._config.fact_weight > 0 and len(data.fact_relations) and not data.fact_has_vector.any():
                log.warning(
                    "fact linking is on but no stored fact has a vector: facts are embedded "
                    "only when documents are ingested with Config.fact_weight > 0"
                )
            data = data.with_room(max(MIN_ROOM, int(ROOM_SHARE * len(data.entity_ids))))
            view = GraphView.build(data, *self._edge_weights())
            self._attach_index(store, namespace, view, None)
            kept = _Kept(view)
            self._save(namespace, kept)
        kept = self._kept[(namespace, None)] = _Kept(view, kept.known_slots)
        return kept

    def _loaded(self, store: Store, namespace: str) -> _Kept | None:
        """The view a process saved for the namespace (its passage index given), kept; None when
        there is none to load."""
        view = self._saved_views.load(namespace) if self._saved_views is not None else None
        if view is None or view.data.version.store_id is None:  # a token without a store id may repeat
            return None
        self._attach_index(store, namespace, view, None)
        self._saved[namespace] = view.data.version.change_seq
        kept = self._kept[(namespace, None)] = _Kept(view)
        return kept

    def _attach_index(self, store: Store, namespace: str, view: GraphView, before: GraphData | None) -> None:
        """Give `view` its passage index (see PassageIndexes.attach). Should that fail, the kept
        view and the index are dropped (the kept view's slots may already be the new view's, the
        index half changed): the next read builds them again. A view without vectors has none."""
        if self.vectors_in_store:
            return
        try:
            self._passage_indexes.attach(store, namespace, view, before)
        except BaseException:
            self._kept.pop((namespace, None), None)
            self._passage_indexes.forget(namespace)
            raise

    def _save(self, namespace: str, kept: _Kept) -> None:
        """Save a large namespace's view for the next process, unless the one saved is as new."""
        limit, version = self._config.save_views_from, kept.view.data.version
        if (
            self._saved_views is None
            or limit is None
            or kept.view.live_passages < limit
            or version.store_id is None
            or self._saved.get(namespace) == version.change_seq
        ):
            return
        started = time.perf_counter()
        # The passage index is saved on its own; cached values (the view's, its adjacency's) are left out.
        view = dataclasses.replace(kept.view, passage_index=None, adjacency=dataclasses.replace(kept.view.adjacency))
        try:
            self._saved_views.save(namespace, view, version)
        except Exception as err:  # noqa: BLE001 - saving is optional: the next process builds the view instead
            log.warning("cannot save the graph view of %r (%s); the next process builds it again", namespace, err)
            return
        self._saved[namespace] = version.change_seq
        log.info("saved the graph view of %r in %.1f s", namespace, time.perf_counter() - started)

    def _updated(self, store: Store, namespace: str, kept: _Kept) -> GraphView | None:
        """The kept view with the writes since applied; None when it must be read again: the
        change log cannot say what changed, or too many of its nodes are dead."""
        if self.passages_only:
            delta = store.passage_changes(namespace, kept.view.data, vectors=not self.vectors_in_store)
        else:
            delta = store.graph_changes(namespace, kept.view.data)
        if delta is None:
            return None
        try:
            view = updated(kept.view, delta, kept.slots)
        except BaseException:
            self._kept.pop((namespace, None), None)  # its slots may be half changed
            raise
        if view is None or view.data.dead_nodes > MAX_DEAD_SHARE * (view.entity_count + view.passage_count):
            return None
        return view

    def _assembled(self, namespace: str, kept: _Kept) -> None:
        """Assemble the kept view's adjacency again, its delta merged (unless a write came first)."""
        if self._kept.get((namespace, None)) is kept:
            view = kept.view
            view = GraphView.assemble(
                view.data,
                view.entity_index,
                view.relations,
                view.topics,
                view.titled,
                *self._edge_weights(),
                entity_passage_counts=view.entity_passage_counts,
            )
            view.passage_index = kept.view.passage_index
            self._kept[(namespace, None)] = _Kept(view, kept.known_slots)

    @property
    def whole(self) -> GraphViews:
        """Views of the whole graphs: these, or, beside views of the passages alone, views of the
        same store made when first asked (exports and topics), shared like these."""
        if not self.passages_only:
            return self
        with self._lock:
            if self._whole is None:
                self._whole = GraphViews(self._store, self._config)
            return self._whole

    def passage_slots(self, namespace: str, view: GraphView, ids: list[str]) -> np.ndarray:
        """The slots of passages `ids` in `view`, the namespace's current view (-1 for a passage
        it does not hold)."""
        with self._lock:  # a write's delta changes the kept slots in place
            kept = self._kept.get((namespace, None))
            slots = kept.slots.passages if kept is not None and kept.view is view else Slots.of(view.data).passages
            return np.array([slots.get(passage, -1) for passage in ids], dtype=np.int64)

    def lexical_index(self, namespace: str, store: Store | None = None) -> LexicalIndex:
        """The namespace's passages ranked by BM25 in this process (graph/lexical_index.py), up to
        date with its current view; for a store that keeps no full-text index. Read through `store`."""
        store = store or self._store
        current = self.get(namespace, store=store)
        with self._lock:
            index = self._lexical.setdefault(namespace, LexicalIndex())
            index.caught_up(store, namespace, current.data)
            return index

    def adopt_note_graphs(self, version: int | None, indexes: dict[str, NeighbourIndex]) -> None:
        """Save the graphs of an ingest's note indexes, which hold exactly the live notes of
        store version `version`, as passage indexes (PassageIndexes.adopt); views without vectors
        have none."""
        if version is None or self.vectors_in_store:
            return
        with self._lock:
            for namespace, notes in sorted(indexes.items()):
                self._passage_indexes.adopt(namespace, notes, version)

    def build(self, namespaces: list[str], progress: bool = False) -> None:
        """Bring the views of `namespaces` up to date (loaded and caught up, or built) and keep
        them, so that `save_indexes` saves them for the next process; with a progress bar."""
        for namespace in tqdm(namespaces, desc="graph views", unit="namespace", disable=not progress or not namespaces):
            started = time.perf_counter()
            try:
                self.get(namespace)
            except HippographError as err:  # the first query meets the same error, and says it
                log.warning("the graph view of %r was not built for the next process: %s", namespace, err)
                continue
            log.info("the graph view of %r is ready, in %.1f s", namespace, time.perf_counter() - started)

    def save_indexes(self) -> None:
        """Save the passage indexes beside the store (graph/passage_index.py) and the large views
        that changed since they were saved or loaded (graph/view_cache.py), so that the next
        process opening the store need not build them."""
        with self._lock:
            self._passage_indexes.save()
            for (namespace, as_of), kept in sorted(self._kept.items(), key=lambda item: item[0][0]):
                if as_of is None:
                    self._save(namespace, kept)
        if self._whole is not None:
            self._whole.save_indexes()

    def forget_saved(self, namespace: str) -> None:
        """Delete the views saved for `namespace` (it was deleted: its data must not stay behind)."""
        self._saved.pop(namespace, None)
        if self._saved_views is not None:
            self._saved_views.forget(namespace)
            if self.passages_only and (other := self._view_cache(self._store, not self.vectors_in_store)):
                other.forget(namespace)  # saved when the store had a vector index, or had none
        if self.passages_only:
            self.whole.forget_saved(namespace)  # a whole view saved by any process

    def _edge_weights(self) -> tuple[float, float]:
        return self._config.topic_edge_weight, self._config.link_edge_weight
