"""`RecordStore`: the whole `Store` interface, written once over a backend's `Records` primitives.

A backend subclasses it and provides its Records in four ways (`_reading`, `_snapshot`,
`_exporting`, `_write`) and `close`; it may override a read with a faster one of its own (the
SQLite store lists namespaces in SQL). The write algorithm is writes.py and the reads of a
namespace's graph for a view graph_reads.py; this module adds the reads that shape records into
notes, facts, documents and changes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from ..errors import DocumentNotFound, StoreError
from ..time_expressions import read_times
from ..types import Change, Link, Note, Passage, Stats, StoredDocument, StoredFact
from . import graph_reads, note_history, writes
from .base import Records
from .changes import ChangeRecorder, log_write
from .graph_data import GraphData, GraphDelta, GraphVersion
from .neighbourhood import read_neighbourhood
from .records import WriteBatch, Written
from .rules import history_value
from .stored_vectors import stack_vectors
from .transfer import RECORDS, Record, to_export

__all__ = ["RecordStore"]

T = TypeVar("T")


class RecordStore:
    """A store made of records; see base.Store for what each method promises."""

    path: Any
    read_only: bool = False
    remote: bool = False

    # -- what a backend provides -------------------------------------------------------

    def _reading(self) -> contextlib.AbstractContextManager[Records]:
        """Records to read, each read seeing the latest commit."""
        raise NotImplementedError

    def _snapshot(self, read: Callable[[Records], T]) -> T:
        """`read(records)` with every read seeing one committed state (run again, on a server
        that shows each statement the latest commit, until no write came between)."""
        raise NotImplementedError

    def _exporting(self) -> contextlib.AbstractContextManager[Records]:
        """Records to read whole, in one committed state (StoreError at the end if a write
        came between: the records would not fit together)."""
        raise NotImplementedError

    def _write(self, work: Callable[[Records], T], *, retry: bool = True) -> T:
        """`work(records)` in one write transaction that counts a new store version, rolled back
        on any exception (ReadOnlyStore when read-only, StoreBusy when another writer holds the
        store too long). With `retry`, a backend may run it again after a transient error; work
        that consumes a stream cannot be run twice."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _size_bytes(self) -> int:
        return 0

    def bulk_writes(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    # -- lookups while ingesting -------------------------------------------------------

    def version(self) -> int:
        with self._reading() as records:
            return int(records.meta("version") or 0)

    def namespace_version(self, namespace: str) -> str:
        with self._reading() as records:
            return graph_reads.namespace_version(records, namespace)

    def graph_version(self, namespace: str) -> GraphVersion:
        return self._snapshot(lambda records: graph_reads.graph_version(records, namespace))

    def embedding_model(self) -> str | None:
        with self._reading() as records:
            return records.meta("embedding_model")

    def document_hashes(self, namespace: str, ids: Iterable[str]) -> dict[str, str]:
        with self._reading() as records:
            found = records.get("document", [(namespace, i) for i in ids])
        return {key[1]: row["content_hash"] for key, row in found.items()}

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        with self._reading() as records:
            found = records.get("embedding", set(keys))
        return {key: np.frombuffer(row["vector"], dtype=np.float32) for key, row in found.items()}

    def entity_names(self, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        with self._reading() as records:
            return {key: (row["name"], row["embedding_key"]) for key, row in records.get("entity", set(ids)).items()}

    def entity_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._snapshot(
            lambda records: _vectors(
                records, "entity", [row for row in records.scan("entity", namespace) if row["embedding_key"]]
            )
        )

    def passage_vectors(self, namespace: str) -> tuple[list[str], np.ndarray]:
        return self._snapshot(lambda records: _vectors(records, "passage", list(records.scan("passage", namespace))))

    def searches_passages(self) -> bool:
        return False  # a backend with a vector index of its own says so (neo4j.py)

    def nearest_passages(self, namespace: str, vector: np.ndarray, count: int) -> list[tuple[str, float]]:
        raise StoreError(f"{self.path} searches no vectors itself")

    def entity_passage_counts(self, ids: Iterable[str], at_most: int | None = None) -> dict[str, int]:
        with self._reading() as records:
            return records.tally("mention", "entity_id", set(ids), at_most)

    def passages_matching(
        self, namespace: str, terms: Sequence[str], limit: int, common: int | None
    ) -> list[tuple[str, float]] | None:
        with self._reading() as records:
            return records.matching(namespace, terms, limit, common)

    def rare_terms(self, namespace: str, terms: Sequence[str], at_most: int) -> list[str] | None:
        with self._reading() as records:
            return records.rare_terms(namespace, terms, at_most)

    def passages_naming_days(self, namespace: str, since: str | None, until: str | None) -> list[str]:
        first, last = (since or "")[:10], (until or "9999")[:10]  # days, as mentions have them
        with self._reading() as records:
            dated = records.dated(namespace)
        return [
            passage for passage, times in dated if any(m.end >= first and m.start <= last for m in read_times(times))
        ]

    def passages_mentioning(self, namespace: str, entity_id: str, limit: int) -> list[str]:
        with self._reading() as records:
            ids = [row["passage_id"] for row in records.find("mention", "entity_id", [entity_id])]
            rows = sorted(
                (r for r in records.get("passage", ids).values() if r["namespace"] == namespace), key=lambda r: r["id"]
            )
        return [row["id"] for row in sorted(rows, key=lambda r: r["created_at"], reverse=True)[:limit]]

    # -- reads ----------------------------------------------------------------------------

    def document(self, namespace: str, document_id: str) -> StoredDocument:
        with self._reading() as records:
            row = records.get("document", [(namespace, document_id)]).get((namespace, document_id))
            if row is None:
                raise DocumentNotFound(f"no document with id {document_id!r} in namespace {namespace!r}")
            passages = records.find("passage", "document_id", [document_id], namespace)
        return StoredDocument(
            id=row["id"],
            title=row["title"],
            source=row["source"],
            metadata=json.loads(row["metadata"]),
            content_hash=row["content_hash"],
            passage_ids=tuple(p["id"] for p in sorted(passages, key=lambda p: p["position"])),
            namespace=namespace,
        )

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        with self._reading() as records:
            return {key: _passage(row) for key, row in records.get("passage", list(ids)).items()}

    def failed_passages(self, namespace: str | None = None) -> list[tuple[Passage, str]]:
        with self._reading() as records:
            return [
                (_passage(row), row["extractor"])
                for row in records.scan("passage", namespace)
                if row["extraction_error"] is not None
            ]

    def notes(self, namespace: str, ids: Iterable[str]) -> dict[str, Note]:
        with self._reading() as records:
            rows = {k: r for k, r in records.get("passage", list(ids)).items() if r["namespace"] == namespace}
            links: dict[str, list[Link]] = {}
            found = {
                (link["a"], link["b"]): link for field in ("a", "b") for link in records.find("link", field, list(rows))
            }
            for (a, b), link in found.items():
                links.setdefault(a, []).append(Link(b, link["kind"], link["reason"], link["weight"]))
                links.setdefault(b, []).append(Link(a, link["kind"], link["reason"], link["weight"]))
            documents = records.get("document", {(namespace, r["document_id"]) for r in rows.values()})
        return {
            key: Note(
                key,
                namespace,
                row["document_id"],
                row["text"],
                row["title"],
                keywords=tuple(json.loads(row["keywords"])),
                tags=tuple(json.loads(row["tags"])),
                context=row["context"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                links=tuple(sorted(links.get(key, ()), key=lambda link: link.note_id)),
                metadata=json.loads(documents[(namespace, row["document_id"])]["metadata"]),
                times=read_times(row["times"]),
            )
            for key, row in rows.items()
        }

    def history(self, namespace: str, passage_id: str) -> list[Change]:
        with self._reading() as records:
            return _history(records, namespace, passage_id)

    def change(self, namespace: str, change_id: int) -> Change:
        with self._reading() as records:
            return _change(records, namespace, change_id)

    def namespaces(self) -> list[str]:
        with self._reading() as records:
            return sorted({row["namespace"] for row in records.scan("document")})

    def facts(self, namespace: str, subject_ids: Iterable[str] | None = None) -> list[StoredFact]:
        with self._reading() as records:
            rows = (
                list(records.scan("fact", namespace))
                if subject_ids is None
                else sorted(records.find("fact", "subject_id", set(subject_ids), namespace), key=lambda r: r["id"])
            )
            names = records.get("entity", {r[side] for r in rows for side in ("subject_id", "object_id")})
            sources: dict[str, list[str]] = {}
            for source in records.find("fact_source", "fact_id", [r["id"] for r in rows]):
                sources.setdefault(source["fact_id"], []).append(source["passage_id"])
        return [
            StoredFact(
                names[r["subject_id"]]["name"],
                r["relation"],
                names[r["object_id"]]["name"],
                r["valid_from"],
                r["valid_to"],
                note_ids=tuple(sorted(sources.get(r["id"], ()))),
            )
            for r in rows
        ]

    def stats(self, namespace: str | None = None) -> Stats:
        """Counts of the whole store, or of one namespace (`embeddings` then counts the vectors its
        records use; `size_bytes` is the whole store's, where the backend knows it)."""
        with self._reading() as records:
            counts = {name: records.count(kind, namespace) for name, kind in _COUNTED.items()}
            passages = list(records.scan("passage", namespace))  # read once for both counts below
            counts["failed_extractions"] = sum(row["extraction_error"] is not None for row in passages)
            if namespace is None:
                counts["embeddings"] = records.count("embedding")
            else:
                keys = {row["embedding_key"] for kind in ("entity", "fact") for row in records.scan(kind, namespace)}
                counts["embeddings"] = len((keys | {row["embedding_key"] for row in passages}) - {None})
        return Stats(**counts, path=str(self.path), size_bytes=self._size_bytes())

    # -- the graph a query runs on ----------------------------------------------------------

    def graph_data(self, namespace: str) -> GraphData:
        return self._snapshot(lambda records: graph_reads.graph_data(records, namespace))

    def graph_changes(self, namespace: str, since: GraphData) -> GraphDelta | None:
        return self._snapshot(lambda records: graph_reads.graph_delta(records, namespace, since))

    def passage_data(self, namespace: str, vectors: bool = True) -> GraphData:
        return self._snapshot(
            lambda records: graph_reads.graph_data(records, namespace, passages_only=True, vectors=vectors)
        )

    def passage_changes(self, namespace: str, since: GraphData, vectors: bool = True) -> GraphDelta | None:
        return self._snapshot(
            lambda records: graph_reads.graph_delta(records, namespace, since, passages_only=True, vectors=vectors)
        )

    def neighbourhood(
        self,
        namespace: str,
        entity_ids: Collection[str],
        passage_ids: Collection[str],
        hops: int,
        max_passages: int,
        with_passages: bool = False,
    ) -> tuple[GraphData, dict[str, int]]:
        def read(records: Records) -> tuple[GraphData, dict[str, int]]:
            version = graph_reads.graph_version(records, namespace)
            return read_neighbourhood(
                records, namespace, version, entity_ids, passage_ids, hops, max_passages, with_passages
            )

        return self._snapshot(read)

    # -- writes -----------------------------------------------------------------------------

    def write(self, batch: WriteBatch, embedding_model: str) -> Written:
        def work(records: ChangeRecorder) -> Written:
            writes.check_embedding_model(records, embedding_model, str(self.path))
            removed = writes.write_batch(records, batch)
            return Written(removed, records.net_count("entity"), records.net_count("fact"))

        return self._logged_write(work, batch.namespaces())

    def delete_document(self, namespace: str, document_id: str) -> list[str]:
        return self._logged_write(lambda records: writes.delete_document(records, namespace, document_id), [namespace])

    def delete_namespace(self, namespace: str) -> int:
        return self._logged_write(lambda records: writes.delete_namespace(records, namespace), [namespace])

    def revert(self, namespace: str, change_id: int) -> Change:
        def work(records: ChangeRecorder) -> Change:
            change = _change(records, namespace, change_id)
            note_history.revert(records, change)
            return _history(records, namespace, change.note_id)[-1]

        return self._logged_write(work, [namespace])

    def _logged_write(self, work: Callable[[ChangeRecorder], T], namespaces: Iterable[str]) -> T:
        """`work` in one write transaction, with what it touched kept in the change log."""

        def logged(records: Records) -> T:
            recorder = ChangeRecorder(records)
            result = work(recorder)
            log_write(records, recorder, namespaces)
            return result

        return self._write(logged)

    # -- moving records between stores -------------------------------------------------------

    def records(self) -> Iterator[Record]:
        with self._exporting() as records:
            for kind in RECORDS:
                for row in records.scan(kind):
                    yield kind, to_export(kind, row)

    def load(self, embedding_model: str | None, records: Iterable[Record]) -> None:
        def work(stored: Records) -> None:
            writes.load(stored, embedding_model, records, str(self.path))
            log_write(stored, None, {row["namespace"] for row in stored.scan("document")})  # too much to log

        self._write(work, retry=False)


# Stats field -> the record type it counts
_COUNTED = {
    "documents": "document",
    "passages": "passage",
    "entities": "entity",
    "facts": "fact",
    "mentions": "mention",
    "synonym_edges": "synonym",
    "links": "link",
}


def _passage(row: dict) -> Passage:
    return Passage(
        row["id"],
        row["document_id"],
        row["position"],
        row["title"],
        row["text"],
        row["namespace"],
        row["created_at"],
        times=read_times(row["times"]),
    )


def _vectors(records: Records, kind: str, rows: list[dict]) -> tuple[list[str], np.ndarray]:
    """Ids and vectors of `rows` (in their order); a row whose vector is missing is left out."""
    found = records.get("embedding", {row["embedding_key"] for row in rows})
    rows = [row for row in rows if row["embedding_key"] in found]
    ids = [row["id"] for row in rows]
    return ids, stack_vectors([found[row["embedding_key"]]["vector"] for row in rows], ids=[f"{kind} {i}" for i in ids])


def _history(records: Records, namespace: str, passage_id: str) -> list[Change]:
    passage = records.get("passage", [passage_id]).get(passage_id)
    if passage is None or passage["namespace"] != namespace:
        return []
    return [
        _as_change(row)
        for row in sorted(records.find("note_change", "passage_id", [passage_id]), key=lambda r: r["id"])
    ]


def _change(records: Records, namespace: str, change_id: int) -> Change:
    row = records.get("note_change", [change_id]).get(change_id)
    passage = records.get("passage", [row["passage_id"]]).get(row["passage_id"]) if row else None
    if passage is None or passage["namespace"] != namespace:
        raise DocumentNotFound(f"no change {change_id!r} of a note in namespace {namespace!r}")
    return _as_change(row)


def _as_change(row: dict) -> Change:
    return Change(
        row["id"],
        row["passage_id"],
        row["field"],
        history_value(row["old_value"]),
        history_value(row["new_value"]),
        row["changed_by"],
        row["source_note"],
        row["changed_at"],
    )
