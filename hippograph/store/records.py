"""What stores write and read: one ingest batch, and the arrays the graph view is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import Document, Passage


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


@dataclass
class WriteBatch:
    """Everything one ingest batch writes; a store applies it in one transaction.

    Documents listed in `replaces` are deleted (with cascade) before the rest is
    written. Facts and embeddings already stored are left as they are; an entity
    already stored keeps its name and gains a vector key if it had none.
    """

    replaces: list[tuple[str, str]] = field(default_factory=list)  # (namespace, document id)
    documents: list[tuple[Document, str]] = field(default_factory=list)  # (document, content hash)
    # (passage, embedding key, extractor, extraction error or None); a stored passage is updated
    passages: list[tuple[Passage, str, str, str | None]] = field(default_factory=list)
    entities: list[EntityRecord] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)  # (passage id, entity id)
    facts: list[FactRecord] = field(default_factory=list)
    fact_sources: list[tuple[str, str]] = field(default_factory=list)  # (fact id, passage id)
    synonyms: list[tuple[str, str, float]] = field(default_factory=list)  # (entity a < entity b, weight)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    retried: bool = False  # the passages are stored already (a retried extraction): they must still exist


@dataclass
class GraphData:
    """A namespace's graph as arrays, in a deterministic order (sorted by id)."""

    version: int  # the store version this snapshot was read at
    entity_ids: list[str]
    entity_names: list[str]
    passage_ids: list[str]
    passage_titles: list[str]
    passage_vectors: np.ndarray  # (passages, dim) float32
    fact_subjects: np.ndarray  # (facts,) entity index
    fact_objects: np.ndarray  # (facts,) entity index
    fact_relations: list[str]
    fact_vectors: np.ndarray  # (facts, dim) float32; zeros where a fact has no vector
    fact_has_vector: np.ndarray  # (facts,) bool: embedded for fact linking
    mention_passages: np.ndarray  # (mentions,) passage index
    mention_entities: np.ndarray  # (mentions,) entity index
    synonym_a: np.ndarray  # (synonyms,) entity index
    synonym_b: np.ndarray
    synonym_weights: np.ndarray
