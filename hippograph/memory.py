"""Memory: the object users hold. It opens a store and ties ingest, retrieval and lookups together."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path

from .answer import Answerer
from .config import Config
from .embed.base import Embedder
from .embed.local import LocalEmbedder
from .errors import ConfigError, DocumentNotFound, QueryError, StoreError
from .extract.base import Extractor
from .extract.llm import LLMExtractor
from .extract.spacy_extractor import SpacyExtractor
from .graph.view import GraphView
from .ingest import Ingestor
from .llm import LLMClient, LLMSettings
from .retrieve import DenseRetriever, GraphRetriever
from .retrieve.recognition import FactFilter
from .sources import Source, read_sources
from .store.sqlite import SQLiteStore
from .threads import single_blas_thread
from .types import DEFAULT_NAMESPACE, Answer, Hit, Hits, IngestReport, Passage, Stats, StoredDocument

log = logging.getLogger(__name__)
METHODS = ("hippograph", "dense")
EXTRACTORS = ("spacy", "llm")


class Memory:
    """A persistent knowledge memory in a folder: ``Memory("./mem")`` creates or reopens it.

    Models load on first use, so opening a memory and reading stats is instant.
    Pass `embedder` / `extractor` to share loaded models between memories, and
    `create=False` to refuse a folder that holds no store yet.

    `extractor` is an Extractor, "spacy" (the offline default) or "llm" (OpenIE by the LLM of
    `llm`). `llm` says where the LLM is; by default it is read from OPENAI_BASE_URL,
    OPENAI_API_KEY and HIPPOGRAPH_LLM_MODEL, and nothing calls it unless an LLM feature is
    used (the "llm" extractor, `answer`, `Config.llm_fact_filter`). Model calls are cached
    (see `LLMSettings.cache_path`), so extracting the same passage again costs no call.
    """

    def __init__(
        self,
        path: str | Path,
        config: Config | None = None,
        *,
        embedder: Embedder | None = None,
        extractor: Extractor | str | None = None,
        llm: LLMSettings | LLMClient | None = None,
        create: bool = True,
    ) -> None:
        self.config = config or Config()
        if isinstance(extractor, str) and extractor not in EXTRACTORS:
            raise ConfigError(f"unknown extractor {extractor!r}; use one of {', '.join(EXTRACTORS)} or an Extractor")
        self._llm_client = llm if isinstance(llm, LLMClient) else None
        self._owns_llm_client = False  # a client passed in is the caller's to close
        self._llm_settings = llm if isinstance(llm, LLMSettings) else None
        if extractor == "llm":  # before the store opens: no endpoint configured raises here
            extractor = LLMExtractor(self.llm)
        elif extractor is None or extractor == "spacy":
            extractor = SpacyExtractor(self.config.spacy_model, processes=self.config.extract_processes)
        self._extractor = extractor
        try:
            self._embedder = embedder or LocalEmbedder(self.config.embedding_model, self.config.embedding_batch_size)
            self._store = SQLiteStore(path, create=create)
        except BaseException:
            if self._owns_llm_client:
                self._llm_client.close()
            raise
        self._views: dict[str, tuple[int, GraphView]] = {}  # namespace -> (store version, view)

    @property
    def extractor_name(self) -> str:
        return self._extractor.name

    @property
    def embedding_model_name(self) -> str:
        return self._embedder.name

    @property
    def llm(self) -> LLMClient:
        """The LLM client (made on first use); LLMNotConfigured when no endpoint is set."""
        if self._llm_client is None:
            self._llm_client = LLMClient(self._llm_settings or LLMSettings.from_env())
            self._owns_llm_client = True
        return self._llm_client

    # -- writing -------------------------------------------------------------

    def ingest(self, sources: Source | Iterable[Source], *, progress: bool = True) -> IngestReport:
        """Add texts, Documents or files (``pathlib.Path``: .jsonl/.json/.txt/.md or folders).

        Every source is read and validated before anything is stored. Re-ingesting
        an unchanged document does nothing; a changed one with the same id replaces it.
        """
        documents = read_sources(sources)
        self._check_embedding_model()
        ingestor = Ingestor(self._store, self._extractor, self._embedder, self.config)
        return self._with_llm_usage(lambda: ingestor.ingest(documents, progress=progress), progress)

    def retry_failed(self, *, namespace: str | None = None, progress: bool = True) -> IngestReport:
        """Extract again every passage whose extraction failed (see `Stats.failed_extractions`),
        in one namespace or all."""
        self._check_embedding_model()
        ingestor = Ingestor(self._store, self._extractor, self._embedder, self.config)
        return self._with_llm_usage(lambda: ingestor.retry_failed(namespace, progress=progress), progress)

    def _with_llm_usage(self, work, progress: bool) -> IngestReport:
        """Run an ingest and add to its report what the extractor's model calls cost."""
        if hasattr(self._extractor, "progress"):  # the LLM extractor's per-passage bar
            self._extractor.progress = progress
        client = getattr(self._extractor, "client", None)
        before = dataclasses.replace(client.usage) if isinstance(client, LLMClient) else None
        report = work()
        if before is not None:
            report.llm_usage = str(client.usage.since(before))
        return report

    def delete(self, document_id: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Delete a document and every passage, entity, fact and edge only it supported."""
        self._store.delete_document(namespace, document_id)

    # -- reading -------------------------------------------------------------

    def query(self, text: str, k: int = 5, *, method: str = "hippograph", namespace: str = DEFAULT_NAMESPACE) -> Hits:
        """The k passages that best answer `text`; method "hippograph" (graph + PPR) or "dense"."""
        if not isinstance(text, str) or not text.strip():
            raise QueryError("the query text is empty")
        if not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a whole number of at least 1, not {k!r}")
        if method not in METHODS:
            raise QueryError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        view = self._graph_view(namespace)
        if view.passage_count == 0:
            return Hits()
        self._check_embedding_model()
        query_vector = self._embedder.embed([text])[0]
        if method == "dense":
            retriever = DenseRetriever(view)
        else:
            retriever = GraphRetriever(view, self.config, FactFilter(self.llm) if self.config.llm_fact_filter else None)
        with single_blas_thread():
            ranked = retriever.retrieve(text, query_vector, k)
        passages = self._store.passages(view.data.passage_ids[r.passage] for r in ranked)
        hits = Hits()
        for r in ranked:
            passage = passages[view.data.passage_ids[r.passage]]
            hits.append(Hit(passage.id, passage.document_id, passage.title, passage.text, r.score, r.explanation))
        return hits

    def answer(self, question: str, k: int = 5, *, method: str = "hippograph",
               namespace: str = DEFAULT_NAMESPACE) -> Answer:
        """An LLM's short answer to `question` from the `k` passages `query` retrieves, citing
        the passages it used. Needs an LLM endpoint (see `Memory`)."""
        client = self.llm
        hits = self.query(question, k, method=method, namespace=namespace)
        if not hits:
            return Answer(question, "unknown", (), hits)
        return Answerer(client).answer(question, hits)

    def get(self, passage_id: str) -> Passage:
        """A stored passage by id."""
        found = self._store.passages([passage_id])
        if passage_id not in found:
            raise DocumentNotFound(f"no passage with id {passage_id!r}")
        return found[passage_id]

    def document(self, document_id: str, *, namespace: str = DEFAULT_NAMESPACE) -> StoredDocument:
        """A stored document by id, with the ids of its passages."""
        return self._store.document(namespace, document_id)

    def stats(self) -> Stats:
        return self._store.stats()

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        self._store.close()
        if self._owns_llm_client:
            self._llm_client.close()

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self._store.path.parent)!r})"

    def _check_embedding_model(self) -> None:
        stored = self._store.embedding_model()
        if stored is not None and stored != self._embedder.name:
            raise StoreError(
                f"this store holds vectors of embedding model {stored!r}, not {self._embedder.name!r}; "
                "open it with the same model or use a new store"
            )

    def _graph_view(self, namespace: str) -> GraphView:
        cached = self._views.get(namespace)
        if cached is None or cached[0] != self._store.version():
            data = self._store.graph_data(namespace)
            if self.config.fact_weight > 0 and len(data.fact_relations) and not data.fact_has_vector.any():
                log.warning("fact linking is on but no stored fact has a vector: facts are embedded "
                            "only when documents are ingested with Config.fact_weight > 0")
            cached = (data.version, GraphView.build(data, self.config.topic_edge_weight))
            self._views[namespace] = cached
        return cached[1]
