"""What stores write and read: one ingest batch, and the arrays the graph view is built from."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import StoreError
from ..types import Document, NoteAttributes, Passage


@dataclass(frozen=True)
class EntityRecord:
    id: str
    namespace: str
    key: str
    name: str
    embedding_key: str | None  # None: no vector (in no fact, or holds a number)


@dataclass(frozen=True)
class FactRecord:
    id: str
    namespace: str
    subject_id: str
    relation: str
    object_id: str
    embedding_key: str
    relation_group: str | None = None  # set when the relation is exclusive (see Config.exclusive_relations)


@dataclass(frozen=True)
class PassageRecord:
    """A passage to store: its vector key, the extractor that read it (and why that failed,
    if it did) and its note attributes."""

    passage: Passage
    embedding_key: str
    extractor: str
    error: str | None
    attributes: NoteAttributes


@dataclass(frozen=True)
class LinkRecord:
    a: str  # passage id, a < b
    b: str
    kind: str
    reason: str
    weight: float


@dataclass(frozen=True)
class AttributeChange:
    """A new value for one attribute of a stored note; the store keeps the old one in its history."""

    passage_id: str
    field: str  # "keywords", "tags" or "context"
    value: tuple[str, ...] | str
    changed_by: str
    source_note: str | None = None


@dataclass
class WriteBatch:
    """Everything one ingest batch writes; a store applies it in one transaction.

    Documents listed in `replaces` are deleted (with cascade) before the rest is
    written. Facts and embeddings already stored are left as they are; an entity
    already stored keeps its name and gains a vector key if it had none. Passages
    listed in `refreshes` (an updated note) lose their mentions, fact sources and
    links first, and their stored text, vector and attributes are overwritten.
    """

    replaces: list[tuple[str, str]] = field(default_factory=list)  # (namespace, document id)
    documents: list[tuple[Document, str]] = field(default_factory=list)  # (document, content hash)
    passages: list[PassageRecord] = field(default_factory=list)  # a stored one gets the new extraction
    entities: list[EntityRecord] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)  # (passage id, entity id)
    facts: list[FactRecord] = field(default_factory=list)
    fact_sources: list[tuple[str, str]] = field(default_factory=list)  # (fact id, passage id)
    synonyms: list[tuple[str, str, float]] = field(default_factory=list)  # (entity a < entity b, weight)
    links: list[LinkRecord] = field(default_factory=list)
    changes: list[AttributeChange] = field(default_factory=list)  # evolution of stored notes
    document_updates: list[tuple[Document, str]] = field(default_factory=list)  # (document, content hash)
    refreshes: list[str] = field(default_factory=list)  # passage ids whose text changed
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    retried: bool = False  # the passages are stored already (a retried extraction): they must still exist

    def namespaces(self) -> set[str]:
        """The namespaces this batch changes."""
        return (
            {ns for ns, _ in self.replaces}
            | {d.namespace for d, _ in self.documents}
            | {r.passage.namespace for r in self.passages}
        )


@dataclass(frozen=True)
class Written:
    """What one applied WriteBatch changed: the entities it removed (a neighbour index forgets
    them) and the net change in entities and facts, counted inside its transaction, so that
    another process's writes at the same time are not counted as this one's."""

    removed_entities: list[str]
    entities: int
    facts: int


@dataclass
class GraphData:
    """A namespace's graph as arrays, in a deterministic order (sorted by id)."""

    version: str  # the namespace's version this snapshot was read at (Store.namespace_version)
    entity_ids: list[str]
    entity_names: list[str]
    passage_ids: list[str]
    passage_titles: list[str]
    passage_times: np.ndarray  # (passages,) str: UTC ISO times
    passage_vectors: np.ndarray  # (passages, dim) float32
    fact_subjects: np.ndarray  # (facts,) entity index
    fact_objects: np.ndarray  # (facts,) entity index
    fact_relations: list[str]
    fact_vectors: np.ndarray  # (facts, dim) float32; zeros where a fact has no vector
    fact_has_vector: np.ndarray  # (facts,) bool: embedded for fact linking
    fact_valid_from: np.ndarray  # (facts,) str: UTC ISO times, "" when unknown
    fact_valid_to: np.ndarray  # (facts,) str: "" while still valid
    mention_passages: np.ndarray  # (mentions,) passage index
    mention_entities: np.ndarray  # (mentions,) entity index
    synonym_a: np.ndarray  # (synonyms,) entity index
    synonym_b: np.ndarray
    synonym_weights: np.ndarray
    link_a: np.ndarray  # (links,) passage index
    link_b: np.ndarray
    link_weights: np.ndarray
    link_kinds: list[str]

    @classmethod
    def from_rows(
        cls, version: str, entities: list, passages: list, facts: list, mentions: list, synonyms: list, links: list
    ) -> GraphData:
        """A snapshot from what a store read, each list in id order: entities (id, name); passages
        (id, float32 vector bytes, title, time); facts (subject id, object id, relation, vector
        bytes or None, valid_from, valid_to); mentions (passage id, entity id); synonyms (a, b,
        weight); links (a, b, weight, kind)."""
        try:
            return cls._from_rows(version, entities, passages, facts, mentions, synonyms, links)
        except (KeyError, ValueError) as err:  # a record naming one that is not there, a vector of another size
            raise StoreError(
                f"the store holds a record that does not fit the others ({type(err).__name__}: "
                f"{err}); `hippograph export` it and import the file into a new store to find "
                "which"
            ) from None

    @classmethod
    def _from_rows(
        cls, version: str, entities: list, passages: list, facts: list, mentions: list, synonyms: list, links: list
    ) -> GraphData:
        entity_index = {entity_id: i for i, (entity_id, _) in enumerate(entities)}
        passage_index = {row[0]: i for i, row in enumerate(passages)}
        passage_vectors = stack_vectors([p[1] for p in passages], ids=[f"passage {p[0]}" for p in passages])
        return cls(
            version=version,
            entity_ids=[e[0] for e in entities],
            entity_names=[e[1] for e in entities],
            passage_ids=[p[0] for p in passages],
            passage_titles=[p[2] for p in passages],
            passage_times=np.array([p[3] for p in passages], dtype=str),
            passage_vectors=passage_vectors,
            fact_subjects=np.array([entity_index[f[0]] for f in facts], dtype=np.int64),
            fact_objects=np.array([entity_index[f[1]] for f in facts], dtype=np.int64),
            fact_relations=[f[2] for f in facts],
            fact_vectors=stack_vectors(
                [f[3] for f in facts], passage_vectors.shape[1], ids=[f"fact {f[0]} -{f[2]}-> {f[1]}" for f in facts]
            ),
            fact_has_vector=np.array([f[3] is not None for f in facts], dtype=bool),
            fact_valid_from=np.array([f[4] or "" for f in facts], dtype=str),
            fact_valid_to=np.array([f[5] or "" for f in facts], dtype=str),
            mention_passages=np.array([passage_index[m[0]] for m in mentions], dtype=np.int64),
            mention_entities=np.array([entity_index[m[1]] for m in mentions], dtype=np.int64),
            synonym_a=np.array([entity_index[s[0]] for s in synonyms], dtype=np.int64),
            synonym_b=np.array([entity_index[s[1]] for s in synonyms], dtype=np.int64),
            synonym_weights=np.array([s[2] for s in synonyms], dtype=np.float64),
            link_a=np.array([passage_index[link[0]] for link in links], dtype=np.int64),
            link_b=np.array([passage_index[link[1]] for link in links], dtype=np.int64),
            link_weights=np.array([link[2] for link in links], dtype=np.float64),
            link_kinds=[link[3] for link in links],
        )

    def as_of(self, time: str) -> GraphData:
        """The graph as it was at `time` (UTC ISO): the notes written by then, and the facts valid
        then (stated by then and not yet ended); entities stay, unconnected if nothing names them."""
        kept = np.flatnonzero(self.passage_times <= time)
        index = np.full(len(self.passage_ids), -1)
        index[kept] = np.arange(len(kept))
        facts = (self.fact_valid_from <= time) & ((self.fact_valid_to == "") | (self.fact_valid_to > time))
        mentions = index[self.mention_passages] >= 0
        links = (index[self.link_a] >= 0) & (index[self.link_b] >= 0)
        return dataclasses.replace(
            self,
            passage_ids=[self.passage_ids[i] for i in kept],
            passage_titles=[self.passage_titles[i] for i in kept],
            passage_times=self.passage_times[kept],
            passage_vectors=self.passage_vectors[kept],
            fact_subjects=self.fact_subjects[facts],
            fact_objects=self.fact_objects[facts],
            fact_relations=[r for r, keep in zip(self.fact_relations, facts) if keep],
            fact_vectors=self.fact_vectors[facts],
            fact_has_vector=self.fact_has_vector[facts],
            fact_valid_from=self.fact_valid_from[facts],
            fact_valid_to=self.fact_valid_to[facts],
            mention_passages=index[self.mention_passages[mentions]],
            mention_entities=self.mention_entities[mentions],
            link_a=index[self.link_a[links]],
            link_b=index[self.link_b[links]],
            link_weights=self.link_weights[links],
            link_kinds=[k for k, keep in zip(self.link_kinds, links) if keep],
        )


def stack_vectors(blobs: list[bytes | None], dimension: int | None = None, ids: list[str] | None = None) -> np.ndarray:
    """Vectors stored as float32 bytes, one row each; a missing one (None) becomes zeros. A vector
    of another size, or holding NaN or infinity (which would silently empty every ranking), is a
    StoreError naming its record (by `ids`, one per blob)."""
    if dimension is None:  # the size most vectors have, so that the one that differs is named
        sizes = Counter(len(blob) for blob in blobs if blob is not None)
        dimension = sizes.most_common(1)[0][0] // 4 if sizes else 0
    matrix = np.zeros((len(blobs), dimension), dtype=np.float32)
    for row, blob in enumerate(blobs):
        if blob is not None:
            vector = np.frombuffer(blob, dtype=np.float32)
            if len(vector) != dimension or not np.isfinite(vector).all():
                what = f"{len(vector)} numbers, not {dimension}" if len(vector) != dimension else "NaN or infinity"
                raise StoreError(
                    f"the stored vector of {ids[row] if ids else f'row {row}'} holds {what}; "
                    "`hippograph export` the store and import the file into a new one to find what "
                    "else does not fit"
                )
            matrix[row] = vector
    return matrix
