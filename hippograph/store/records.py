"""What a write hands a store: one ingest batch, and what applying it changed."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

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
    written; `all_links` waits for links still being worked out. Facts and embeddings
    already stored are left as they are; an entity already stored keeps its name and
    gains a vector key if it had none. Passages listed in `refreshes` (an updated note)
    lose their mentions, fact sources and links first, and their stored text, vector
    and attributes are overwritten.
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
    # More links, still being worked out by another thread while the rest is written (offline note
    # linking, see Ingestor): a store takes them last, waiting for them, in the same transaction.
    links_later: Future[list[LinkRecord]] | None = None
    changes: list[AttributeChange] = field(default_factory=list)  # evolution of stored notes
    document_updates: list[tuple[Document, str]] = field(default_factory=list)  # (document, content hash)
    refreshes: list[str] = field(default_factory=list)  # passage ids whose text changed
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    retried: bool = False  # the passages are stored already (a retried extraction): they must still exist

    def all_links(self) -> list[LinkRecord]:
        """The batch's links, those of `links_later` included (waiting for them; the thread's
        exception, if it failed, is raised here and the write rolls back)."""
        return self.links + (self.links_later.result() if self.links_later is not None else [])

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
    them) and the net change in entities and facts, counted from the records it inserted and
    deleted (not by counting the store: another process's writes are not this one's)."""

    removed_entities: list[str]
    entities: int
    facts: int
