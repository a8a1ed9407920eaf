"""The two interfaces of storage.

`Store` is what the rest of hippograph uses: lookups for ingest, reads for users, the graph a
query runs on, writes, and moving records between stores. `RecordStore` (record_store.py)
implements all of it once, over `Records`: the few primitives a backend writes in its own query
language (SQLite: sqlite.py; a Bolt/Cypher graph server: neo4j.py). A new backend subclasses
`RecordStore` and provides a transaction that yields its `Records`; docs/stores.md walks through it.

Records are those of the export format (transfer.RECORDS), with stored values: JSON text for
metadata, keywords, tags and history values, float32 bytes for vectors. KEYS says which fields
identify a record; a key is that field's value, or a tuple of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..types import Change, Note, Passage, Stats, StoredDocument, StoredFact
from .graph_data import GraphData, GraphDelta, GraphVersion
from .records import WriteBatch, Written
from .transfer import RECORDS, Record

__all__ = ["KEYS", "Key", "Records", "Store", "checked_fields", "record_key"]

Key = Any  # a str, or a tuple of str for the record types keyed by two fields
# record type -> the fields that identify one record
KEYS: dict[str, tuple[str, ...]] = {
    "embedding": ("key",),
    "document": ("namespace", "id"),
    "passage": ("id",),
    "entity": ("id",),
    "mention": ("passage_id", "entity_id"),
    "fact": ("id",),
    "fact_source": ("fact_id", "passage_id"),
    "synonym": ("a", "b"),
    "link": ("a", "b"),
    "note_change": ("id",),
}


def record_key(kind: str, row: Mapping[str, Any]) -> Key:
    """The key of a record of type `kind`."""
    fields = KEYS[kind]
    return row[fields[0]] if len(fields) == 1 else tuple(row[field] for field in fields)


def fields_read(kind: str, fields: Sequence[str] | None) -> tuple[str, ...]:
    """The fields a read of `fields` returns (Records.get): those and the key's, each once (all
    of the record type's for None)."""
    if fields is None:
        return tuple(RECORDS[kind])
    return tuple(dict.fromkeys([*KEYS[kind], *checked_fields(kind, fields)]))


def checked_fields(kind: str, field: str | Sequence[str]) -> tuple[str, ...]:
    """`field` (one field or several) as a tuple, each checked to be a field of the record type."""
    fields = (field,) if isinstance(field, str) else tuple(field)
    for name in fields:
        if name not in RECORDS[kind]:
            raise ValueError(f"a {kind} record has no field {name!r}")
    return fields


class Records(Protocol):
    """A backend's records inside one transaction. Reads see the transaction's own writes.

    Every row is a dict with the fields of its record type. Namespaces: a record holds one, or
    (mentions, fact sources, synonyms, links) takes that of the passage or entity it starts at.
    """

    def get(self, kind: str, keys: Iterable[Key], fields: Sequence[str] | None = None) -> dict[Key, dict]:
        """The stored records among `keys`, by key (absent keys are left out); with `fields`, those
        fields alone (and the key's)."""
        ...

    def find(
        self,
        kind: str,
        field: str | tuple[str, ...],
        values: Collection,
        namespace: str | None = None,
        not_before: tuple[str, str] | None = None,
    ) -> list[dict]:
        """The records whose `field` holds one of `values` (in `namespace`, when given); indexed
        lookups for the fields the write algorithm follows: references and embedding keys. With
        a tuple of fields, `values` are tuples that every field must match, one by one.
        `not_before` = (a field, a value): only the records whose field is unset or not before
        the value (the facts of a group still valid at a time)."""
        ...

    def scan(self, kind: str, namespace: str | None = None) -> Iterator[dict]:
        """Every record of a type (of one namespace, when given), in key order."""
        ...

    def rows(self, kind: str, fields: Sequence[str], namespace: str | None = None) -> Iterable[tuple]:
        """`scan`'s records as tuples of only `fields`: the bulk read of a graph view, with no
        column it does not need (a passage's text) and no dict per record. It may be read lazily,
        while the reading transaction lasts."""
        ...

    def count(self, kind: str, namespace: str | None = None) -> int: ...

    def tally(self, kind: str, field: str, values: Collection, at_most: int | None = None) -> dict[Any, int]:
        """How many records hold each of `values` in `field` (values none holds left out),
        counted by the backend, not by reading the records (a popular entity has many mentions);
        with `at_most`, a count larger than that is given as `at_most`."""
        ...

    def insert(self, kind: str, rows: list[dict]) -> None:
        """Add records whose keys are not stored. A note change without an "id" gets the next
        one. StoreError when a row names a record that is not there."""
        ...

    def update(self, kind: str, changes: Mapping[Key, dict]) -> None:
        """Set fields of stored records: key -> {field: new value}."""
        ...

    def delete(self, kind: str, keys: Iterable[Key]) -> None:
        """Delete records, and with them the records that cannot stand without them: a passage's
        mentions, fact sources, links and changes; an entity's mentions and synonyms; a fact's
        sources. (A document's passages, and facts naming an entity, are deleted first by the
        caller.)"""
        ...

    def matching(
        self, namespace: str, terms: Sequence[str], limit: int, common: int | None
    ) -> list[tuple[str, float]] | None:
        """The `limit` passages of `namespace` whose title or text holds the most of `terms`
        (lower-case words; those more than `common` of its passages hold left out, see
        full_text.uncommon), by BM25, best first: (id, score), a higher score better. None when
        the backend keeps no full-text index (the caller ranks the passages itself)."""
        ...

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> list[str] | None:
        """The `terms` (lower-case words) that no more than `at_most` passages of `namespace` hold
        in their title or text, in order; None when the backend keeps no full-text index."""
        ...

    def dated(self, namespace: str) -> list[tuple[str, str]]:
        """(id, times) of the passages of `namespace` whose text names a time (`times` not "[]")."""
        ...

    def meta(self, key: str) -> str | None:
        """A store-wide setting ("embedding_model")."""
        ...

    def set_meta(self, key: str, value: str) -> None: ...


class Store(Protocol):
    """What hippograph asks of a store (implemented once, by record_store.RecordStore)."""

    path: Any  # where the store is, for messages
    read_only: bool  # every write raises ReadOnlyStore
    remote: bool  # a graph server: every read is a round trip over the network
    index_folder: Path | None  # where indexes beside the records are saved (None: kept in memory only)

    # -- lookups while ingesting --
    def bulk_writes(self) -> contextlib.AbstractContextManager[None]:
        """A run of large writes (an ingest's batches): a store may put off its upkeep until
        the run ends."""
        ...

    def version(self) -> int:
        """A number that changes with every committed write."""
        ...

    def namespace_version(self, namespace: str) -> str:
        """A token that changes with every committed write that changes `namespace` (a graph
        view's cache key): writes to other namespaces leave it as it is."""
        ...

    def graph_version(self, namespace: str) -> GraphVersion:
        """The state of the store a graph view of `namespace` read now would be at."""
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

    def searches_passages(self) -> bool:
        """Whether the store finds the passages nearest a vector itself (a graph server's vector
        index: store/bolt_vectors.py), so that a client need not hold their vectors."""
        ...

    def nearest_passages(self, namespace: str, vector: np.ndarray, count: int) -> list[tuple[str, float]]:
        """The (about) `count` passages of `namespace` nearest `vector`, as (id, cosine), nearest
        first; only where `searches_passages`."""
        ...

    def entity_passage_counts(self, ids: Iterable[str], at_most: int | None = None) -> dict[str, int]:
        """How many passages mention each of the entities among `ids` (absent: none), counted up
        to `at_most` when given."""
        ...

    def passages_matching(
        self, namespace: str, terms: Sequence[str], limit: int, common: int | None
    ) -> list[tuple[str, float]] | None:
        """Records.matching: the passages that best match `terms` by BM25, as (id, score), best
        first; None when the store keeps no full-text index."""
        ...

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> list[str] | None:
        """Records.rare_terms: the `terms` no more than `at_most` passages hold; None when the
        store keeps no full-text index."""
        ...

    def passages_naming_days(self, namespace: str, since: str | None, until: str | None) -> list[str]:
        """The passages of `namespace` whose text names a day (a TimeMention) in [since, until]
        (UTC ISO times; None: open)."""
        ...

    def passages_mentioning(self, namespace: str, entity_id: str, limit: int) -> list[str]:
        """Up to `limit` passages of `namespace` that mention the entity, the latest notes first."""
        ...

    # -- reads --
    def document(self, namespace: str, document_id: str) -> StoredDocument:
        """A stored document with its passage ids in order (DocumentNotFound otherwise)."""
        ...

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        """The stored passages among `ids`, of any namespace."""
        ...

    def notes(self, namespace: str, ids: Iterable[str]) -> dict[str, Note]:
        """The notes of `namespace` among `ids`, with their attributes and links."""
        ...

    def history(self, namespace: str, passage_id: str) -> list[Change]:
        """Every recorded change of a note of `namespace`, oldest first."""
        ...

    def change(self, namespace: str, change_id: int) -> Change:
        """One recorded change of a note of `namespace` (DocumentNotFound otherwise)."""
        ...

    def namespaces(self) -> list[str]:
        """The namespaces that hold a document, sorted."""
        ...

    def facts(self, namespace: str, subject_ids: Iterable[str] | None = None) -> list[StoredFact]:
        """The facts of `namespace` (about `subject_ids` only, when given), in id order."""
        ...

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        """Passages stored with a recorded extraction failure (all namespaces when None), each
        with the name of the extractor that failed."""
        ...

    def stats(self, namespace: str | None = None) -> Stats:
        """Counts of the whole store, or of one namespace."""
        ...

    # -- the graph a query runs on --
    def graph_data(self, namespace: str) -> GraphData:
        """A namespace's graph as arrays, read in one snapshot."""
        ...

    def graph_changes(self, namespace: str, since: GraphData) -> GraphDelta | None:
        """The records the writes to `namespace` after `since` was read touched, as they are now,
        read in one snapshot; None when the change log cannot say (read the graph again)."""
        ...

    def passage_data(self, namespace: str, vectors: bool = True) -> GraphData:
        """`graph_data` of the passages alone (no entities, facts or edges): what a client that
        reads neighbourhoods keeps (graph/neighbourhood.py); without `vectors`, with none (zero
        columns), for a store that `searches_passages`."""
        ...

    def passage_changes(self, namespace: str, since: GraphData, vectors: bool = True) -> GraphDelta | None:
        """`graph_changes` of the passages alone (no other record is read); without `vectors`, as
        `passage_data` reads them."""
        ...

    def neighbourhood(
        self,
        namespace: str,
        entity_ids: Collection[str],
        passage_ids: Collection[str],
        hops: int,
        max_passages: int,
        with_passages: bool = False,
    ) -> tuple[GraphData, dict[str, int]]:
        """The graph within `hops` hops of the seeds, and its entities' passage counts, read in one
        snapshot (store/neighbourhood.py); its passages are ids alone unless `with_passages`
        (their titles, times and vectors read too)."""
        ...

    # -- writes (each one transaction) --
    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        """Apply a batch; return the entities it removed and what it added."""
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

    # -- moving records between stores --
    def records(self) -> Iterator[Record]:
        """Every record in the export format (see transfer.py), in a stable order."""
        ...

    def load(self, embedding_model: str | None, records: Iterable[Record]) -> None:
        """Write exported records into this empty store in one transaction (StoreError: nothing written)."""
        ...

    def close(self) -> None: ...
