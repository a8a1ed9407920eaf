"""The ingest pipeline: documents -> passages -> extraction -> embeddings -> one store write per batch.

Unchanged documents (same id, same content hash) are skipped before any model
loads, so re-ingesting a corpus costs seconds. A document whose content changed
replaces the stored one inside the same transaction that writes the new version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from .chunking import chunk_text
from .config import Config
from .embed.base import Embedder
from .extract.base import Extractor
from .extract.normalize import clean_phrase, normalize_entity
from .graph.synonyms import SynonymIndex
from .ids import content_hash
from .store.base import Store
from .store.records import EntityRecord, FactRecord, WriteBatch
from .types import Document, IngestReport, Passage

log = logging.getLogger(__name__)


def document_hash(document: Document) -> str:
    """What decides whether a stored document changed: its title, text and metadata."""
    metadata = repr(sorted(document.metadata.items()))
    return content_hash(document.title, document.text, metadata)


def embedding_key(text: str) -> str:
    return content_hash("text", text)


class Ingestor:
    """Turns documents into store writes for one namespace."""

    def __init__(self, store: Store, extractor: Extractor, embedder: Embedder, config: Config) -> None:
        self._store = store
        self._extractor = extractor
        self._embedder = embedder
        self._config = config
        self._synonyms: dict[str, SynonymIndex] = {}

    def ingest(self, documents: Sequence[Document], progress: bool = True) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        self._synonyms = {}  # loaded afresh: deletes may have happened since the last call
        documents = self._usable(documents, report)
        stored = {}
        for namespace in {d.namespace for d in documents}:
            ids = [d.id for d in documents if d.namespace == namespace]
            stored.update({(namespace, i): h for i, h in self._store.document_hashes(namespace, ids).items()})
        todo = []
        for document in documents:
            previous = stored.get((document.namespace, document.id))
            if previous == document_hash(document):
                report.unchanged += 1
            else:
                todo.append((document, previous is not None))
        if todo:
            before = self._store.stats()
            size = self._config.ingest_batch_size
            with tqdm(total=len(todo), unit="doc", desc="ingest", disable=not progress) as bar:
                for start in range(0, len(todo), size):
                    batch = todo[start : start + size]
                    self._write(batch, report)
                    bar.update(len(batch))
            after = self._store.stats()
            report.entities = after.entities - before.entities
            report.facts = after.facts - before.facts
        report.seconds = time.perf_counter() - started
        log.info("ingest: %s", report)
        return report

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

    def _write(self, batch: list[tuple[Document, bool]], report: IngestReport) -> None:
        write = WriteBatch()
        passages: list[Passage] = []
        for document, replaces in batch:
            if replaces:
                write.replaces.append((document.namespace, document.id))
                report.replaced += 1
            else:
                report.added += 1
            write.documents.append((document, document_hash(document)))
            for position, text in enumerate(chunk_text(document.text, self._config.chunk_words)):
                passage_id = content_hash(document.namespace, document.id, str(position), text)
                passages.append(Passage(passage_id, document.id, position, document.title, text, document.namespace))
        extractions = self._extractor.extract(passages)

        texts: dict[str, str] = {}  # embedding key -> text
        for passage in passages:
            key = embedding_key(passage.embedding_text)
            texts[key] = passage.embedding_text
            write.passages.append((passage, key, self._extractor.name))
        entities: dict[str, EntityRecord] = {}
        facts: dict[str, FactRecord] = {}
        for passage, extraction in zip(passages, extractions):
            mentioned = set()
            for phrase in [*extraction.entities, *(x for t in extraction.triples for x in (t.subject, t.object))]:
                entity = self._entity(passage.namespace, phrase, entities, texts)
                if entity is not None:
                    mentioned.add(entity.id)
            write.mentions += [(passage.id, entity_id) for entity_id in sorted(mentioned)]
            for triple in extraction.triples:
                subject = self._entity(passage.namespace, triple.subject, entities, texts)
                obj = self._entity(passage.namespace, triple.object, entities, texts)
                relation = " ".join(triple.relation.split()).lower()
                if subject is None or obj is None or not relation:
                    continue
                fact_text = f"{subject.name} {relation} {obj.name}"
                fact_id = content_hash(passage.namespace, subject.key, relation, obj.key)
                facts[fact_id] = FactRecord(fact_id, passage.namespace, subject.id, relation, obj.id, embedding_key(fact_text))
                texts[embedding_key(fact_text)] = fact_text
                write.fact_sources.append((fact_id, passage.id))
        write.entities = list(entities.values())
        write.facts = list(facts.values())
        vectors = self._vectors(texts, write, report)
        write.synonyms = self._synonym_edges(write.entities, vectors)
        report.passages += len(passages)
        removed = self._store.write(write, self._embedder.name)
        for index in self._synonyms.values():
            index.remove(removed)

    def _entity(self, namespace: str, phrase: str, entities: dict[str, EntityRecord], texts: dict[str, str]) -> EntityRecord | None:
        key = normalize_entity(phrase)
        if not key:
            return None
        entity_id = content_hash(namespace, key)
        if entity_id not in entities:
            name = clean_phrase(phrase)
            entities[entity_id] = EntityRecord(entity_id, namespace, key, name, embedding_key(name))
            texts[embedding_key(name)] = name
        return entities[entity_id]

    def _vectors(self, texts: dict[str, str], write: WriteBatch, report: IngestReport) -> dict[str, np.ndarray]:
        """Vectors of every text of the batch: stored ones reused, the rest embedded once."""
        vectors = self._store.vectors(texts)
        missing = sorted(key for key in texts if key not in vectors)
        if missing:
            embedded = self._embedder.embed([texts[key] for key in missing])
            for key, vector in zip(missing, embedded):
                vectors[key] = vector
                write.embeddings[key] = vector
            report.embedded += len(missing)
        return vectors

    def _synonym_edges(self, entities: list[EntityRecord], vectors: dict[str, np.ndarray]) -> list[tuple[str, str, float]]:
        edges = []
        for namespace in sorted({e.namespace for e in entities}):
            # Numbers and dates ("1998", "1999") look alike to an embedder but are not synonyms.
            members = [e for e in entities if e.namespace == namespace and any(c.isalpha() for c in e.key)]
            if not members:
                continue
            index = self._synonym_index(namespace)
            matrix = np.vstack([vectors[e.embedding_key] for e in members])
            edges += index.link([e.id for e in members], matrix,
                                self._config.synonym_threshold, self._config.synonym_max_neighbors)
        return edges

    def _synonym_index(self, namespace: str) -> SynonymIndex:
        if namespace not in self._synonyms:
            self._synonyms[namespace] = SynonymIndex(*self._store.entity_vectors(namespace))
        return self._synonyms[namespace]
