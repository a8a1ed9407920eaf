"""The ingest pipeline: documents -> passages -> extraction -> embeddings -> one store write per batch.

Unchanged documents (same id, same content hash) are skipped before any model
loads, so re-ingesting a corpus costs seconds. A document whose content changed
replaces the stored one inside the same transaction that writes the new version.
A batch's entities, mentions and facts are made from its extractions in batch_records.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from .batch_records import add_graph_records
from .chunking import chunk_text
from .config import Config
from .embed.base import Embedder
from .embed.neighbours import NeighbourIndex
from .errors import ConfigError, ModelError, SourceError
from .extract.base import Extractor
from .ids import content_hash, embedding_key
from .llm import LLMClient
from .notes import LinkJudge, LLMAttributes, NoteLinker, offline_attributes
from .notes.attributes import NOTES_COUNTED
from .store.base import Store
from .store.records import EntityRecord, PassageRecord, WriteBatch
from .types import Document, Extraction, IngestReport, Passage

log = logging.getLogger(__name__)


def document_hash(document: Document) -> str:
    """What decides whether a stored document changed: its title, text, metadata and given vector."""
    metadata = json.dumps(document.metadata, sort_keys=True)
    if document.vector is None:
        return content_hash(document.title, document.text, metadata)
    return content_hash(document.title, document.text, metadata, np.asarray(document.vector).tobytes().hex())


def whole_note_id(namespace: str, document_id: str) -> str:
    """The passage id of a note stored whole (`Memory.add`): its text can change, its id does not."""
    return content_hash(namespace, document_id, "note")


def _speaker(metadata: dict) -> str | None:
    """Who said a document, from its metadata "speaker" (a chat turn's): a name, else None.
    Each of its passages mentions the speaker as an entity."""
    speaker = metadata.get("speaker")
    return (speaker.strip() or None) if isinstance(speaker, str) else None


def _kind(extractor_name: str) -> str:
    """The kind of an extractor from its name: "llm:gpt-4o-mini:openie-2" -> "llm"."""
    return extractor_name.split(":", 1)[0]


class Ingestor:
    """Turns documents into store writes, one transaction per batch of documents."""

    def __init__(
        self, store: Store, extractor: Extractor, embedder: Embedder, config: Config, notes_llm: LLMClient | None = None
    ) -> None:
        """`notes_llm` writes note attributes and judges links (Config.llm_notes); None: offline."""
        self._store = store
        self._extractor = extractor
        self._embedder = embedder
        self._config = config
        self._synonyms: dict[str, NeighbourIndex] = {}
        clients = [getattr(extractor, "client", None), notes_llm]  # the LLMs an ingest may call, each once
        self._llm_clients = list({id(c): c for c in clients if isinstance(c, LLMClient)}.values())
        self._llm_attributes = LLMAttributes(notes_llm) if notes_llm else None
        self._judge = LinkJudge(notes_llm) if notes_llm else None
        self._link_worker = ThreadPoolExecutor(1, thread_name_prefix="hippograph-links")  # see NoteLinker
        self._linker = NoteLinker(store, config, self._judge, self._link_worker)
        self._version: int | None = None  # the store version after this ingestor's last write
        self._dimension: int | None = None  # the embedding model's, once a given vector is checked against it
        self.progress = True  # whether the last ingest showed progress (LLM note work and views show theirs then)
        self.passages_written: Counter[str] = Counter()  # by namespace, over this ingestor's life

    def close(self) -> None:
        """Stop the linking thread (started by the first write that links)."""
        self._link_worker.shutdown()

    def note_indexes(self) -> tuple[int | None, dict[str, NeighbourIndex]]:
        """The store version after this ingestor's last write, and the note indexes (by
        namespace) if they hold exactly the live notes of that version: their HNSW graphs can
        serve as passage indexes (graph/passage_index.py) instead of being built again."""
        return self._version, self._linker.in_step(self._version)

    def ingest(self, documents: Sequence[Document], progress: bool = True, as_notes: bool = False) -> IngestReport:
        """Store new and changed documents. With `as_notes` each document is one note (not
        chunked), whose id depends on its namespace and document id only, so it survives
        updates of its text."""
        started = time.perf_counter()
        report = IngestReport()
        self._reset()
        self.progress = progress
        todo = self._changed(self._usable(documents, report), report)
        write = lambda batch, report: self._write(batch, report, as_notes)  # noqa: E731
        return self._in_batches(todo, write, report, started, progress, desc="ingest", unit="doc")

    def update(self, note: Passage, document: Document) -> IngestReport:
        """Give a stored note (the one passage of `document`) the document's new text and
        metadata: extracted, embedded and linked again, its old text kept in its history."""
        started = time.perf_counter()
        report = IngestReport(replaced=1)
        self._reset()
        self.progress = False
        self._linker.forget([note.id])
        write = WriteBatch(refreshes=[note.id], document_updates=[(document, document_hash(document))])
        changed = dataclasses.replace(
            note, text=document.text, title=document.title, speaker=_speaker(document.metadata)
        )
        return self._in_batches(
            [changed],
            lambda batch, report: self._write_passages(batch, write, report),
            report,
            started,
            progress=False,
            desc="update",
            unit="note",
        )

    def _reset(self) -> None:
        """Load the neighbour indexes afresh when anything else wrote to the store since this
        ingestor's last write (a delete, another process), else keep them: many small writes
        (`Memory.add`) then cost no reloading."""
        if self._store.version() != self._version:
            self._synonyms = {}
            self._linker = NoteLinker(self._store, self._config, self._judge, self._link_worker)

    def retry_failed(self, namespace: str | None = None, progress: bool = True) -> IngestReport:
        """Extract again the passages stored with a recorded extraction failure and add what the
        extractor finds now; passages that fail again keep a (new) failure record.

        The extractor must be of the kind that failed ("llm" for "llm:MODEL:PROMPT"): another
        kind would clear the record without doing the work that failed.
        """
        started = time.perf_counter()
        self._reset()
        self.progress = progress
        failed_with = self._store.failed_passages(namespace)
        kind = _kind(self._extractor.name)
        other_names = [name for _, name in failed_with if _kind(name) != kind]
        others = sorted(set(other_names))
        if others:
            raise ConfigError(
                f"{len(other_names)} passage(s) failed with extractor {', '.join(others)}; retry them "
                f"with that kind of extractor (e.g. --extractor {_kind(others[0])}), not {kind}"
            )
        failed = [self._with_speaker(passage) for passage, _ in failed_with]
        self._linker.forget([passage.id for passage in failed])  # linked again as they are written, like new notes
        return self._in_batches(
            failed, self._write_retried, IngestReport(), started, progress, desc="retry", unit="passage"
        )

    def _with_speaker(self, passage: Passage) -> Passage:
        """A stored passage with the speaker its document's metadata names (none is stored with it)."""
        document = self._store.document(passage.namespace, passage.document_id)
        return dataclasses.replace(passage, speaker=_speaker(document.metadata))

    def _in_batches(
        self, items: list, write, report: IngestReport, started: float, progress: bool, desc: str, unit: str
    ) -> IngestReport:
        """Write `items` in batches of `ingest_batch_size` (one transaction each), with progress;
        the report says what the model calls cost (extraction and notes), when an LLM was used."""
        if hasattr(self._extractor, "progress"):  # the LLM extractor's per-passage bar
            self._extractor.progress = progress
        before = [dataclasses.replace(client.usage) for client in self._llm_clients]
        if items:
            size = self._config.ingest_batch_size
            with tqdm(total=len(items), unit=unit, desc=desc, disable=not progress) as bar, self._store.bulk_writes():
                for start in range(0, len(items), size):
                    batch = items[start : start + size]
                    write(batch, report)
                    bar.update(len(batch))
        if self._llm_clients:
            used = [client.usage.since(earlier) for client, earlier in zip(self._llm_clients, before)]
            report.llm_usage = str(sum(used[1:], used[0]))
        report.seconds = time.perf_counter() - started
        log.info("%s: %s", desc, report)
        return report

    def _changed(self, documents: list[Document], report: IngestReport) -> list[tuple[Document, bool]]:
        """The documents that are new or differ from their stored version, each with "replaces"."""
        stored: dict[tuple[str, str], str] = {}
        for namespace in sorted({d.namespace for d in documents}):
            ids = [d.id for d in documents if d.namespace == namespace]
            stored.update({(namespace, i): h for i, h in self._store.document_hashes(namespace, ids).items()})
        todo = []
        for document in documents:
            previous = stored.get((document.namespace, document.id))
            if previous == document_hash(document):
                report.unchanged += 1
            else:
                todo.append((document, previous is not None))
        return todo

    def _usable(self, documents: Sequence[Document], report: IngestReport) -> list[Document]:
        """Drop empty documents (logged) and keep the last of documents sharing an id."""
        latest: dict[tuple[str, str], Document] = {}
        for document in documents:
            if not document.text.strip():
                log.warning("skipping document %r from %s: its text is empty", document.id, document.source or "input")
                report.skipped += 1
                continue
            key = (document.namespace, document.id)
            if key in latest:
                log.warning("document id %r appears more than once; the last one is kept", document.id)
                report.skipped += 1
            latest[key] = document
        return list(latest.values())

    def _write(self, batch: list[tuple[Document, bool]], report: IngestReport, as_notes: bool) -> None:
        write = WriteBatch()
        self._write_passages(self._passages(batch, write, report, as_notes), write, report)

    def _write_retried(self, passages: list[Passage], report: IngestReport) -> None:
        self._write_passages(passages, WriteBatch(retried=True), report)

    def _write_passages(self, passages: list[Passage], write: WriteBatch, report: IngestReport) -> None:
        """Extract, embed and store `passages` with whatever `write` already holds, in one transaction."""
        self._version = None  # the indexes take this batch in before it is written: should anything fail, reload them
        extractions = [
            dataclasses.replace(found, entities=[passage.speaker, *found.entities]) if passage.speaker else found
            for passage, found in zip(passages, self._extractor.extract(passages))
        ]
        texts, names = add_graph_records(self._store, passages, extractions, write, self._config)
        vectors = self._vectors(texts, write, report)
        entities = self._note_records(passages, extractions, names, write, report)
        if self._config.synonym_threshold is not None:
            write.synonyms = self._synonym_edges([e for e in write.entities if e.embedding_key], vectors)
        if self._config.link_threshold is not None:
            linked = self._linker.link(write.passages, vectors, entities, self.progress)
            write.links, write.links_later, write.changes = linked.links, linked.later, linked.changes
            report.notes_offline += linked.fallbacks
        report.passages += len(passages)
        report.failed += sum(1 for e in extractions if e.error)
        try:
            written = self._store.write(write, self._embedder.name)
        finally:
            if write.links_later is not None:  # a write that failed first: the linker must be done before the next
                write.links_later.exception()
        report.entities += written.entities
        report.facts += written.facts
        self.passages_written.update(passage.namespace for passage in passages)
        self._version = self._store.version()
        self._linker.written(self._version)
        for index in self._synonyms.values():
            index.remove(written.removed_entities)

    def _passages(
        self, batch: list[tuple[Document, bool]], write: WriteBatch, report: IngestReport, as_notes: bool
    ) -> list[Passage]:
        passages: list[Passage] = []
        for document, replaces in batch:
            if replaces:
                write.replaces.append((document.namespace, document.id))
                self._linker.forget(list(self._store.document(document.namespace, document.id).passage_ids))
                report.replaced += 1
            else:
                report.added += 1
            write.documents.append((document, document_hash(document)))
            # A chunk repeated within one document is stored once: a run of one repeated token
            # became hundreds of identical chunks, all linked to each other.
            texts = (
                [document.text]
                if as_notes or document.vector is not None  # a given vector stands for the whole text
                else list(dict.fromkeys(chunk_text(document.text, self._config.chunk_words)))
            )
            for position, text in enumerate(texts):
                passage_id = (
                    whole_note_id(document.namespace, document.id)
                    if as_notes
                    else content_hash(document.namespace, document.id, str(position), text)
                )
                passage = Passage(
                    passage_id,
                    document.id,
                    position,
                    document.title,
                    text,
                    document.namespace,
                    document.timestamp,
                    _speaker(document.metadata),
                )
                passages.append(passage)
                if document.vector is not None:
                    write.embeddings[embedding_key(passage.embedding_text)] = document.vector
        return passages

    def _note_records(
        self,
        passages: list[Passage],
        extractions: list[Extraction],
        names: list[list[EntityRecord]],
        write: WriteBatch,
        report: IngestReport,
    ) -> dict[str, list[str]]:
        """The batch's passages with their note attributes (see hippograph/notes/); returns each
        passage's entity ids, the most specific (mentioned by the fewest notes) first."""
        counts = self._store.entity_passage_counts({e.id for entities in names for e in entities}, NOTES_COUNTED)
        for entities in names:
            for entity in entities:
                counts[entity.id] = min(counts.get(entity.id, 0) + 1, NOTES_COUNTED)
        attributes = [
            offline_attributes(passage, [e.name for e in entities], [counts[e.id] for e in entities])
            for passage, entities in zip(passages, names)
        ]
        if self._llm_attributes is not None:
            attributes, failed = self._llm_attributes.write(passages, attributes, self.progress)
            report.notes_offline += failed
        for passage, extraction, note in zip(passages, extractions, attributes):
            key = embedding_key(passage.embedding_text)
            write.passages.append(PassageRecord(passage, key, self._extractor.name, extraction.error, note))
        return {
            passage.id: [e.id for e in sorted(entities, key=lambda e: counts[e.id])]
            for passage, entities in zip(passages, names)
        }

    def _vectors(self, texts: dict[str, str], write: WriteBatch, report: IngestReport) -> dict[str, np.ndarray]:
        """Vectors of every text of the batch: stored ones reused, those given with documents
        (already in `write`) taken, the rest embedded once."""
        if write.embeddings:
            self._check_given(write.embeddings, texts)
        vectors = self._store.vectors(texts)
        differing = []
        for key in [key for key in write.embeddings if key in vectors]:  # the stored vector is kept
            if not np.allclose(write.embeddings.pop(key), vectors[key], atol=1e-6):
                differing.append(key)
        if differing:  # a text's vector is shared by every passage of that text: one is stored
            log.warning(
                "%d given vector(s) differ from the vectors stored for the same texts (%r...); the stored "
                "ones are kept, also when the same records are ingested again: delete the documents "
                "first to store new vectors",
                len(differing),
                texts[differing[0]][:60],
            )
        vectors.update(write.embeddings)
        missing = sorted(key for key in texts if key not in vectors)
        if missing:
            batch = [texts[key] for key in missing]
            embedded = _usable_vectors(self._embedder.embed(batch), batch, self._embedder.name)
            for key, vector in zip(missing, embedded):
                vectors[key] = vector
                write.embeddings[key] = vector
            report.embedded += len(missing)
        return vectors

    def _check_given(self, given: dict[str, np.ndarray], texts: dict[str, str]) -> None:
        """SourceError (nothing of the batch stored) unless every given vector has as many numbers
        as the embedding model's, which will embed the questions."""
        if self._dimension is None:
            probe = _usable_vectors(self._embedder.embed(["dimension"]), ["dimension"], self._embedder.name)
            self._dimension = probe.shape[1]
        for key, vector in given.items():
            if len(vector) != self._dimension:
                raise SourceError(
                    f"the vector given for {texts[key][:80]!r} has {len(vector)} numbers, but the embedding "
                    f"model {self._embedder.name!r} gives {self._dimension}; nothing of this batch was stored"
                )

    def _synonym_edges(
        self, entities: list[EntityRecord], vectors: dict[str, np.ndarray]
    ) -> list[tuple[str, str, float]]:
        edges = []
        for namespace in sorted({e.namespace for e in entities}):
            members = [e for e in entities if e.namespace == namespace]
            index = self._synonym_index(namespace)
            matrix = np.vstack([vectors[e.embedding_key] for e in members])
            edges += index.link(
                [e.id for e in members], matrix, self._config.synonym_threshold, self._config.synonym_max_neighbors
            )
        return edges

    def _synonym_index(self, namespace: str) -> NeighbourIndex:
        if namespace not in self._synonyms:
            self._synonyms[namespace] = NeighbourIndex(*self._store.entity_vectors(namespace))
        return self._synonyms[namespace]


def _usable_vectors(embedded, texts: list[str], model: str) -> np.ndarray:
    """The embedder's vectors for `texts`, one finite row each; a ModelError (nothing of the
    batch stored) otherwise: a NaN vector stored would make every query of the store rank nothing."""
    vectors = np.asarray(embedded)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ModelError(
            f"the embedding model {model!r} gave {vectors.shape} for {len(texts)} texts; "
            "nothing of this batch was stored"
        )
    broken = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(broken):
        raise ModelError(
            f"the embedding model {model!r} gave NaN or infinite numbers for {texts[broken[0]][:80]!r}; "
            "nothing of this batch was stored"
        )
    return vectors
