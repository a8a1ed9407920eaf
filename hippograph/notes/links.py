"""Note links: each new note is linked to the notes of its namespace whose embeddings are closest
(above `Config.link_threshold`, at most `link_max_neighbors`); with `Config.evolve_notes` the
earlier notes it links to take on its tags (each change kept in their history)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..config import Config
from ..graph.neighbours import NeighbourIndex
from ..store.base import Store
from ..store.records import AttributeChange, LinkRecord, PassageRecord

MAX_EVOLVED_TAGS = 8  # evolution adds tags to a note up to this many


class NoteLinker:
    """Holds the note vectors of each namespace while an ingest runs (loaded on first use)."""

    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config
        self._indexes: dict[str, NeighbourIndex] = {}
        self._forgotten: set[str] = set()

    def forget(self, passage_ids: list[str]) -> None:
        """Drop notes about to be deleted, or whose text changes, from the indexes (those loaded
        now and those loaded later); a note linked again afterwards comes back with its new vector."""
        self._forgotten.update(passage_ids)
        for index in self._indexes.values():
            index.remove(passage_ids)

    def links(self, records: list[PassageRecord], vectors: dict[str, np.ndarray]) -> list[LinkRecord]:
        """Links of the new notes to the notes already indexed and to each other."""
        found: list[LinkRecord] = []
        for namespace in sorted({r.passage.namespace for r in records}):
            members = [r for r in records if r.passage.namespace == namespace]
            matrix = np.vstack([vectors[r.embedding_key] for r in members])
            pairs = self._index(namespace).link([r.passage.id for r in members], matrix,
                                                self._config.link_threshold, self._config.link_max_neighbors)
            found += [LinkRecord(a, b, "similar", f"similar text (cosine {weight:.2f})", weight)
                      for a, b, weight in pairs]
        return found

    def evolution(self, records: list[PassageRecord], links: list[LinkRecord]) -> list[AttributeChange]:
        """Each new note adds its tags to the earlier notes it links to (stored ones, or ones
        before it in the batch)."""
        arrival = {r.passage.id: i for i, r in enumerate(records)}
        neighbours: dict[str, list[str]] = defaultdict(list)
        for link in links:
            neighbours[link.a].append(link.b)
            neighbours[link.b].append(link.a)
        tags = {r.passage.id: r.attributes.tags for r in records}
        for namespace in sorted({r.passage.namespace for r in records}):
            stored = {other for r in records if r.passage.namespace == namespace
                      for other in neighbours[r.passage.id] if other not in arrival}
            tags.update((note_id, note.tags) for note_id, note in self._store.notes(namespace, stored).items())
        changes = []
        for record in records:
            source = record.passage.id
            for other in sorted(neighbours[source]):
                if other not in tags or arrival.get(other, -1) > arrival[source] or not record.attributes.tags:
                    continue
                merged = tuple(dict.fromkeys([*tags[other], *record.attributes.tags]))[:MAX_EVOLVED_TAGS]
                if merged != tags[other]:
                    tags[other] = merged
                    changes.append(AttributeChange(other, "tags", merged, "evolution", source))
        return changes

    def _index(self, namespace: str) -> NeighbourIndex:
        if namespace not in self._indexes:
            self._indexes[namespace] = NeighbourIndex(*self._store.passage_vectors(namespace))
            self._indexes[namespace].remove(sorted(self._forgotten))
        return self._indexes[namespace]
