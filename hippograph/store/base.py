"""The Store interface: the embedded SQLite store implements it, a Neo4j store will too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from ..types import Change, Note, Passage, Stats, StoredDocument, StoredFact
from .records import GraphData, WriteBatch, Written
from .transfer import Record


class Store(Protocol):
    read_only: bool  # every write raises ReadOnlyStore

    def version(self) -> int:
        """A number that changes with every committed write (the graph view's cache key)."""
        ...

    def embedding_model(self) -> str | None:
        """The embedding model this store's vectors come from, None while it is empty."""
        ...

    def document_hashes(self, namespace: str, ids: Iterable[str]) -> dict[str, str]:
        """Content hashes of the stored documents among `ids`."""
        ...

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the embedding keys among `keys`."""
        ...

    def entity_names(self, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """Stored name and embedding key of the entities among `ids`."""
        ...

    def entity_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        """Every entity id of a namespace with a vector, and the vectors (rows in id order)."""
        ...

    def passage_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        """Every passage id of a namespace and its vector (rows in id order)."""
        ...

    def entity_passage_counts(self, ids: Iterable[str]) -> dict[str, int]:
        """How many passages mention each of the entities among `ids` (absent: none)."""
        ...

    def passages_mentioning(self, namespace: str, entity_id: str, limit: int) -> list[str]:
        """Up to `limit` passages of `namespace` that mention the entity, the latest notes first."""
        ...

    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        """Apply a batch in one transaction; return the entities it removed and what it added."""
        ...

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        """Delete a document and all that only it supported; return removed entity ids."""
        ...

    def delete_namespace(self, namespace: str) -> int:
        """Delete all a namespace holds; return how many documents it had."""
        ...

    def revert(self, namespace: str, change_id: int) -> Change:
        """Undo a recorded attribute change of a note, recording that as a change."""
        ...

    def document(self, namespace: str, document_id: str) -> StoredDocument:
        ...

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        ...

    def notes(self, namespace: str, ids: Iterable[str]) -> dict[str, Note]:
        """The notes of `namespace` among `ids`, with their attributes and links."""
        ...

    def history(self, namespace: str, passage_id: str) -> list[Change]:
        ...

    def change(self, namespace: str, change_id: int) -> Change:
        ...

    def namespaces(self) -> list[str]:
        ...

    def facts(self, namespace: str, subject_ids: Iterable[str] | None = None) -> list[StoredFact]:
        ...

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        """Passages stored with a recorded extraction failure (all namespaces when None), each
        with the name of the extractor that failed."""
        ...

    def graph_data(self, namespace: str) -> GraphData:
        ...

    def stats(self, namespace: str | None = None) -> Stats:
        ...

    def records(self) -> Iterator[Record]:
        """Every record in the export format (see transfer.py), in a stable order."""
        ...

    def load(self, embedding_model: str | None, records: Iterable[Record]) -> None:
        """Write exported records into this empty store in one transaction (StoreError: nothing written)."""
        ...

    def close(self) -> None:
        ...
