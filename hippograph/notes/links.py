"""Note links (A-MEM): each new note is linked to related earlier notes of its namespace.

Offline, the related notes are the closest by embedding (cosine at least
`Config.link_threshold`, at most `link_max_neighbors`); with `Config.evolve_notes` the earlier
notes a new note links to take on its tags. With `Config.llm_notes` the LLM chooses among
candidates (the nearest notes and notes sharing the new note's most specific entities), gives
a reason for each link and, with evolution on, suggests new tags and context for the notes it
links to. A note whose LLM call fails is linked offline instead. Every attribute change is
kept in the changed note's history.

"Earlier" means indexed before it: a note of the batch can link to the stored notes of its
namespace and to the notes before it in the batch. A note written again (its text updated, or
its failed extraction retried) joins the batch like a new note.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np

from ..config import Config
from ..embed.neighbours import NeighbourIndex
from ..errors import LLMCallFailed
from ..llm.pool import call_each
from ..store.base import Store
from ..store.records import AttributeChange, LinkRecord, PassageRecord
from .attributes import MAX_EVOLVED_TAGS
from .llm_links import Judgment, LinkJudge, NoteView

log = logging.getLogger(__name__)
SHARED_ENTITIES = 3  # candidates sharing an entity are looked up for the note's most specific ones
LLM_LINK_WEIGHT = 1.0  # a link the LLM confirmed weighs as much as identical texts


@dataclass(frozen=True)
class _LinkJob:
    """A new note to ask the LLM about: its record, its candidates and what the LLM is shown of them."""

    record: PassageRecord
    candidate_ids: list[str]
    candidates: list[NoteView]


@dataclass
class Linked:
    """What linking a batch of notes decided."""

    links: list[LinkRecord] = field(default_factory=list)
    changes: list[AttributeChange] = field(default_factory=list)  # evolution of earlier notes
    fallbacks: int = 0  # notes linked offline because their LLM call failed
    later: Future[list[LinkRecord]] | None = None  # more links, still being worked out (WriteBatch.links_later)


class NoteLinker:
    """Holds the note vectors of each namespace while an ingest runs (loaded on first use).

    With a `worker`, offline links without evolution (the defaults) are worked out in its thread
    while the caller writes the rest of the batch: the searches and additions of the HNSW graph
    and the store's writes both run outside Python's lock, so on two cores the linking costs
    little more than nothing. The links are the same as without a worker.
    """

    def __init__(
        self, store: Store, config: Config, judge: LinkJudge | None = None, worker: Executor | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._judge = judge
        self._worker = worker
        self._indexes: dict[str, NeighbourIndex] = {}
        self._forgotten: set[str] = set()
        self._matches: int | None = None  # the store version whose live notes the indexes hold (None: unknown)
        self._changing = False  # the indexes changed since (for a write not made yet)

    def forget(self, passage_ids: list[str]) -> None:
        """Drop notes about to be deleted, or whose text changes, from the indexes (those loaded
        now and those loaded later); a note linked again afterwards comes back with its new vector."""
        self._changing = True
        self._forgotten.update(passage_ids)
        for index in self._indexes.values():
            index.remove(passage_ids)

    def link(
        self,
        records: list[PassageRecord],
        vectors: dict[str, np.ndarray],
        entities: dict[str, list[str]],
        progress: bool = False,
    ) -> Linked:
        """Links of the new notes to the notes already indexed and to each other, and the
        evolution they cause. `entities` holds each new note's entity ids, most specific first.
        With a worker and neither LLM nor evolution, the links come in `Linked.later`, and nothing
        may call this linker again before they are done (the batch's write waits for them)."""
        self._changing = True
        if self._judge is not None:
            return self._confirmed_links(records, vectors, entities, progress)
        groups = self._similar_groups(records, vectors)  # the indexes are read from the store here, not in the worker
        if self._worker is not None and not self._config.evolve_notes:
            return Linked(later=self._worker.submit(self._similar_links, groups))
        links = self._similar_links(groups)
        return Linked(links, self.evolution(records, links) if self._config.evolve_notes else [])

    def _similar_groups(
        self, records: list[PassageRecord], vectors: dict[str, np.ndarray]
    ) -> list[tuple[NeighbourIndex, list[str], np.ndarray]]:
        """Per namespace: its index, and the new notes' ids and vectors."""
        groups = []
        for namespace in sorted({r.passage.namespace for r in records}):
            members = [r for r in records if r.passage.namespace == namespace]
            matrix = np.vstack([vectors[r.embedding_key] for r in members])
            groups.append((self._index(namespace), [r.passage.id for r in members], matrix))
        return groups

    def _similar_links(self, groups: list[tuple[NeighbourIndex, list[str], np.ndarray]]) -> list[LinkRecord]:
        found: list[LinkRecord] = []
        for index, ids, matrix in groups:
            pairs = index.link(ids, matrix, self._config.link_threshold, self._config.link_max_neighbors)
            found += [_similar(a, b, weight) for a, b, weight in pairs]
        return found

    def _confirmed_links(
        self,
        records: list[PassageRecord],
        vectors: dict[str, np.ndarray],
        entities: dict[str, list[str]],
        progress: bool,
    ) -> Linked:
        """Ask the LLM which candidates each new note relates to; offline links where that fails."""
        jobs = self._jobs(records, vectors, entities)
        judgments = call_each(
            self._judge_one,
            jobs,
            workers=self._judge.client.settings.max_concurrency,
            desc="LLM note links",
            unit="note",
            progress=progress,
        )
        linked, fallback_links = Linked(), []
        for job, judgment in zip(jobs, judgments):
            record, candidate_ids = job.record, job.candidate_ids
            index = self._indexes[record.passage.namespace]
            if judgment is None:
                linked.fallbacks += 1
                fallback_links += self._offline_choice(record.passage.id, candidate_ids, index)
                continue
            kept = judgment.links[: self._config.link_max_neighbors]
            for number, reason in kept:
                a, b = sorted((record.passage.id, candidate_ids[number]))
                linked.links.append(LinkRecord(a, b, "llm", reason, LLM_LINK_WEIGHT))
            if self._config.evolve_notes:
                targets = {number: candidate_ids[number] for number, _ in kept}
                linked.changes += _suggested_changes(record.passage.id, targets, judgment)
        if linked.fallbacks:
            log.warning(
                "the LLM could not judge the links of %d note(s); they are linked by similarity instead",
                linked.fallbacks,
            )
        linked.links += fallback_links
        if self._config.evolve_notes and fallback_links:
            linked.changes += self.evolution(records, fallback_links, linked.changes)
        return linked

    def _jobs(
        self, records: list[PassageRecord], vectors: dict[str, np.ndarray], entities: dict[str, list[str]]
    ) -> list[_LinkJob]:
        """A job for each new note that has earlier notes."""
        jobs = []
        for namespace in sorted({r.passage.namespace for r in records}):
            members = [r for r in records if r.passage.namespace == namespace]
            index = self._index(namespace)
            index.add([r.passage.id for r in members], np.vstack([vectors[r.embedding_key] for r in members]))
            in_batch = defaultdict(list)  # entity id -> the new notes mentioning it
            for member in members:
                for entity_id in entities.get(member.passage.id, []):
                    in_batch[entity_id].append(member.passage.id)
            candidates = {
                r.passage.id: self._candidates(r.passage.id, namespace, index, entities, in_batch) for r in members
            }
            views = self._views(namespace, members, {c for found in candidates.values() for c in found})
            jobs += [
                _LinkJob(r, candidates[r.passage.id], [views[c] for c in candidates[r.passage.id]])
                for r in members
                if candidates[r.passage.id]
            ]
        return jobs

    def _candidates(
        self,
        note_id: str,
        namespace: str,
        index: NeighbourIndex,
        entities: dict[str, list[str]],
        in_batch: dict[str, list[str]],
    ) -> list[str]:
        """Up to `link_candidates` earlier notes: half the nearest by embedding, then notes sharing
        the note's most specific entities (the latest first), then more of the nearest."""
        count = self._config.link_candidates
        nearest = index.nearest_earlier(note_id, count)
        sharing = []
        for entity_id in entities.get(note_id, [])[:SHARED_ENTITIES]:
            sharing += in_batch[entity_id][::-1] + self._store.passages_mentioning(namespace, entity_id, count)
        sharing = [other for other in sharing if other in index and index.is_before(other, note_id)]
        half = count - count // 2
        return list(dict.fromkeys([*nearest[:half], *sharing, *nearest[half:]]))[:count]

    def _views(self, namespace: str, members: list[PassageRecord], ids: set[str]) -> dict[str, NoteView]:
        """What the LLM is shown of each candidate: new notes as this batch has them, others as stored."""
        views = {r.passage.id: NoteView(r.passage.text, r.attributes, r.passage.time) for r in members}
        stored = self._store.notes(namespace, ids - views.keys())
        views.update((note_id, NoteView.of(note)) for note_id, note in stored.items())
        return views

    def _judge_one(self, job: _LinkJob) -> Judgment | None:
        passage = job.record.passage
        note = NoteView(passage.text, job.record.attributes, passage.time)
        try:
            return self._judge.judge(note, job.candidates, self._config.evolve_notes)
        except LLMCallFailed as err:
            log.info("note %s: %s", passage.id, err)
            return None

    def _offline_choice(self, note_id: str, candidate_ids: list[str], index: NeighbourIndex) -> list[LinkRecord]:
        """The candidates similar enough for an offline link."""
        scored = sorted(((index.similarity(note_id, other), other) for other in candidate_ids), reverse=True)
        chosen = [(s, other) for s, other in scored if s >= self._config.link_threshold]
        return [_similar(*sorted((note_id, other)), s) for s, other in chosen[: self._config.link_max_neighbors]]

    def evolution(
        self, records: list[PassageRecord], links: list[LinkRecord], pending: list[AttributeChange] = ()
    ) -> list[AttributeChange]:
        """Each new note adds its tags to the earlier notes it links to (stored ones, or ones
        before it in the batch), on top of the `pending` changes this batch makes already."""
        arrival = {r.passage.id: i for i, r in enumerate(records)}
        neighbours: dict[str, list[str]] = defaultdict(list)
        for link in links:
            neighbours[link.a].append(link.b)
            neighbours[link.b].append(link.a)
        tags = {r.passage.id: r.attributes.tags for r in records}
        for namespace in sorted({r.passage.namespace for r in records}):
            stored = {
                other
                for r in records
                if r.passage.namespace == namespace
                for other in neighbours[r.passage.id]
                if other not in arrival
            }
            tags.update((note_id, note.tags) for note_id, note in self._store.notes(namespace, stored).items())
        tags.update((change.passage_id, change.value) for change in pending if change.field == "tags")
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

    def written(self, version: int) -> None:
        """The batch linked last is written, and the store is now at `version`."""
        in_step = self._matches is not None and version == self._matches + 1  # no other write came between
        self._matches, self._changing = (version if in_step else None), False

    def in_step(self, version: int | None) -> dict[str, NeighbourIndex]:
        """The loaded indexes if they hold exactly the live notes of their namespaces at store
        version `version` (their graphs then serve as passage indexes), else none."""
        return dict(self._indexes) if version is not None and not self._changing and self._matches == version else {}

    def _index(self, namespace: str) -> NeighbourIndex:
        if namespace not in self._indexes:
            before = self._store.version()
            index = NeighbourIndex(*self._store.passage_vectors(namespace))
            index.remove(sorted(self._forgotten))
            read_at = before if self._store.version() == before else None
            self._matches = read_at if not self._indexes or self._matches == read_at else None
            self._indexes[namespace] = index
        return self._indexes[namespace]


def _similar(a: str, b: str, weight: float) -> LinkRecord:
    return LinkRecord(a, b, "similar", f"similar text (cosine {weight:.2f})", weight)


def _suggested_changes(source: str, targets: dict[int, str], judgment: Judgment) -> list[AttributeChange]:
    """The LLM's new tags and context for the notes the source links to (`targets`, by candidate
    number); an empty suggestion changes nothing."""
    changes = []
    for update in judgment.updates:
        target = targets.get(update.candidate)
        if target is None:
            continue
        if update.tags:
            changes.append(AttributeChange(target, "tags", update.tags, "llm-evolution", source))
        if update.context:
            changes.append(AttributeChange(target, "context", update.context, "llm-evolution", source))
    return changes
