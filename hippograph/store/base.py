"""The Store interface: the embedded SQLite store implements it, a Neo4j store will too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from ..types import Passage, Stats, StoredDocument
from .records import GraphData, WriteBatch


class Store(Protocol):
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
        """Every entity id of a namespace and its vector (rows in id order)."""
        ...

    def write(self, batch: WriteBatch, embedding_model: str) -> list[str]:
        """Apply a batch in one transaction; return the ids of entities it removed."""
        ...

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        """Delete a document and all that only it supported; return removed entity ids."""
        ...

    def document(self, namespace: str, document_id: str) -> StoredDocument:
        ...

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        ...

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        """Passages stored with a recorded extraction failure (all namespaces when None), each
        with the name of the extractor that failed."""
        ...

    def graph_data(self, namespace: str) -> GraphData:
        ...

    def stats(self) -> Stats:
        ...

    def close(self) -> None:
        ...
