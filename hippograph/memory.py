"""Memory: the object users hold. It opens a store and ties ingest, retrieval and lookups together."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .answer import Answerer
from .config import Config
from .embed.base import Embedder
from .embed.local import LocalEmbedder
from .errors import ConfigError, DocumentNotFound, QueryError, ReadOnlyStore, SourceError, StoreError
from .extract import EXTRACTORS, Extractor, extractor_named, normalize_entity
from .graph.export import to_igraph, to_networkx
from .graph.neighbourhood import neighbourhood_view
from .graph.topics import find_topics
from .graph.view import GraphView
from .graph.views import GraphViews
from .ids import content_hash
from .ingest import Ingestor, document_hash, whole_note_id
from .inputs import MAX_NOTE_CHARACTERS, checked_metadata, checked_namespace, checked_text, note_document
from .llm import LLMClient, LLMSettings
from .retrieve.lexical import lexical_matches
from .retrieve.recognition import FactFilter
from .retrieve.search import METHODS, in_window, lexical_reads, search
from .sources import Source, read_sources
from .store import Store, open_store
from .store.transfer import import_export_file, load_records, write_export, write_export_file
from .threads import single_blas_thread
from .timestamps import to_utc
from .types import Answer, Change, Document, Hits, IngestReport, Note, Stats, StoredDocument, StoredFact, Topic

if TYPE_CHECKING:
    import igraph
    import networkx
    import numpy as np

__all__ = ["EXTRACTORS", "MAX_NOTE_CHARACTERS", "METHODS", "Memory", "Time"]

Time = datetime | date | str


class Memory:
    """A persistent knowledge memory in a folder: ``Memory("./mem")`` creates or reopens it.
    On a graph server: ``Memory("bolt://host:7687")`` (credentials and database from the NEO4J_*
    variables) or ``Memory(store=Neo4jStore(uri, auth, database))`` (``from hippograph.store.neo4j
    import Neo4jStore``); the memory closes its store.

    Models load on first use, so opening a memory and reading stats is instant.
    Pass `embedder` / `extractor` to share loaded models between memories, and
    `create=False` to refuse a folder that holds no store yet, `read_only=True` to open it
    without ever writing (a snapshot, a shared folder); a folder this process cannot write is
    opened read-only by itself. A write asked of a read-only memory raises ReadOnlyStore.
    Memories of one store in one process may share `graph_views` (a `GraphViews`), so that each
    namespace's graph is held and brought up to date once for all of them (a server's pool does).

    `extractor` is an Extractor, "spacy" (the offline default) or "llm" (OpenIE by the LLM of
    `llm`). `llm` says where the LLM is; by default it is read from OPENAI_BASE_URL,
    OPENAI_API_KEY and HIPPOGRAPH_LLM_MODEL, and nothing calls it unless an LLM feature is
    used (the "llm" extractor, `answer`, `Config.llm_notes`, `Config.llm_fact_filter`). Model
    calls are cached (see `LLMSettings.cache_path`), so extracting the same passage again
    costs no call.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        config: Config | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        extractor: Extractor | str | None = None,
        llm: LLMSettings | LLMClient | None = None,
        create: bool = True,
        read_only: bool = False,
        graph_views: GraphViews | None = None,
    ) -> None:
        self.config = config or Config()
        self._llm_client = llm if isinstance(llm, LLMClient) else None
        self._owns_llm_client = False  # a client passed in is the caller's to close
        self._llm_settings = llm if isinstance(llm, LLMSettings) else None
        # Before the store opens: an LLM feature asked for without an endpoint configured raises here.
        if extractor is None or isinstance(extractor, str):
            extractor = extractor_named(extractor, self.config, lambda: self.llm)
        self._extractor = extractor
        self._notes_llm = self.llm if self.config.llm_notes else None
        try:
            self._embedder = embedder or LocalEmbedder(self.config.embedding_model, self.config.embedding_batch_size)
            if store is not None and path is not None:
                raise ConfigError("give a Memory a folder or graph server URI, or a store=, not both")
            self._store = store if store is not None else open_store(path, create=create, read_only=read_only)
        except BaseException:
            if self._owns_llm_client:
                self._llm_client.close()
            raise
        self._owns_views = graph_views is None  # shared views are saved by the memory that made them
        # Reading neighbourhoods, queries keep the passages alone; exports and topics read the whole graph.
        neighbourhoods = self.config.reads_neighbourhoods(getattr(self._store, "remote", False))
        self._views = graph_views or GraphViews(self._store, self.config, passages_only=neighbourhoods)
        self._ingest: Ingestor | None = None  # made on first write; keeps its neighbour indexes between writes

    @property
    def graph_views(self) -> GraphViews:
        """The graph views this memory queries (see `graph_views=`)."""
        return self._views

    @property
    def read_only(self) -> bool:
        """Whether this memory refuses writes (opened read-only, or its folder cannot be written)."""
        return self._store.read_only

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

    def ingest(
        self, sources: Source | Iterable[Source], *, namespace: str | None = None, progress: bool = True
    ) -> IngestReport:
        """Add texts, Documents or files (``pathlib.Path``: .jsonl/.json/.txt/.md or folders).

        Every source is read and validated before anything is stored. Re-ingesting
        an unchanged document does nothing; a changed one with the same id replaces it.
        `namespace` puts every document into that namespace; otherwise Documents keep their
        own and texts and files go to the default one.
        """
        self._check_writable()
        documents = read_sources(sources)
        if namespace is not None:
            namespace = checked_namespace(namespace, SourceError)
            documents = [dataclasses.replace(document, namespace=namespace) for document in documents]
        self._check_embedding_model()
        return self._ingestor().ingest(documents, progress=progress)

    def retry_failed(self, *, namespace: str | None = None, progress: bool = True) -> IngestReport:
        """Extract again every passage whose extraction failed (see `Stats.failed_extractions`),
        in one namespace or all."""
        self._check_writable()
        self._check_embedding_model()
        return self._ingestor().retry_failed(namespace, progress=progress)

    def add(
        self,
        text: str,
        *,
        namespace: str | None = None,
        timestamp: Time | None = None,
        metadata: dict[str, Any] | None = None,
        id: str | None = None,
    ) -> Note:
        """Store one memory (a chat turn, an observation, a fact) as a note and return it.

        `timestamp` is when it was said (a datetime, a date or an ISO 8601 string; a time
        without a zone is UTC); by default, now. `id` names the note's document (unique in the
        namespace; by default a hash of text, time and metadata). Adding the same id again with
        the same content returns the stored note; with other content it is refused: use
        `update`. The note is extracted, embedded and linked to related notes at once.
        """
        namespace = checked_namespace(namespace, SourceError)
        self._check_writable()
        document = note_document(text, namespace, timestamp, metadata, id)
        id = document.id
        stored_hash = self._store.document_hashes(namespace, [id]).get(id)
        if stored_hash is not None and stored_hash != document_hash(document):
            raise SourceError(
                f"namespace {namespace!r} already holds {id!r} with other content; change it with update()"
            )
        self._check_embedding_model()
        self._ingestor().ingest([document], progress=False, as_notes=True)
        found = self._store.notes(namespace, [whole_note_id(namespace, id)])
        if not found:
            raise SourceError(f"{id!r} of namespace {namespace!r} is a document ingested in passages, not a note")
        return next(iter(found.values()))

    def update(
        self,
        note_id: str,
        text: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        namespace: str | None = None,
    ) -> Note:
        """Give a note a new text and/or metadata: it is extracted, embedded and linked again,
        and its old text and attributes are kept in its history."""
        namespace = checked_namespace(namespace, SourceError)
        self._check_writable()
        note = self.get(note_id, namespace=namespace)
        stored = self._single_note_document(note)
        document = Document(
            checked_text(text) if text is not None else note.text,
            id=stored.id,
            title=stored.title,
            source=stored.source,
            namespace=namespace,
            timestamp=note.created_at,
            metadata=checked_metadata(metadata) if metadata is not None else stored.metadata,
        )
        if document.text == note.text and document.metadata == stored.metadata:
            return note
        self._check_embedding_model()
        self._ingestor().update(self._store.passages([note.id])[note.id], document)
        return self.get(note_id, namespace=namespace)

    def delete_note(self, note_id: str, *, namespace: str | None = None) -> None:
        """Delete a note, its links from every neighbour, and the entities and facts only it
        supported."""
        namespace = checked_namespace(namespace, SourceError)
        self._check_writable()
        note = self.get(note_id, namespace=namespace)
        self._store.delete_document(namespace, self._single_note_document(note).id)

    def delete(self, document_id: str, *, namespace: str | None = None) -> None:
        """Delete a document and every passage, entity, fact and edge only it supported."""
        self._check_writable()
        self._store.delete_document(checked_namespace(namespace, SourceError), document_id)

    def delete_namespace(self, namespace: str) -> int:
        """Delete everything a namespace holds; return how many documents (notes included) it had.
        DocumentNotFound for a namespace that holds nothing (a mistyped name deletes nothing)."""
        namespace = checked_namespace(namespace, SourceError)
        self._check_writable()
        known = self._store.namespaces()
        if namespace not in known:
            raise DocumentNotFound(
                f"namespace {namespace!r} holds nothing; the store's namespaces: "
                f"{', '.join(map(repr, known)) or 'none'}"
            )
        deleted = self._store.delete_namespace(namespace)
        self._views.forget_saved(namespace)
        return deleted

    def revert(self, change_id: int, *, namespace: str | None = None) -> Change:
        """Undo one recorded change of a note (see `history`), recording the undoing as a change.
        Refused when the same attribute changed again since."""
        namespace = checked_namespace(namespace, SourceError)
        self._check_writable()
        change = self._store.change(namespace, change_id)
        if change.field != "text":
            return self._store.revert(namespace, change_id)
        note = self.get(change.note_id, namespace=namespace)
        if note.text != change.new:
            raise StoreError(
                f"the text of note {note.id} changed again after change {change_id}; revert the later changes first"
            )
        self.update(note.id, change.old, namespace=namespace)
        return [c for c in self.history(note.id, namespace=namespace) if c.field == "text"][-1]

    # -- reading -------------------------------------------------------------

    def query(
        self,
        text: str,
        k: int = 5,
        *,
        method: str = "hippograph",
        namespace: str | None = None,
        since: Time | None = None,
        until: Time | None = None,
        as_of: Time | None = None,
    ) -> Hits:
        """The k passages that best answer `text`; method "hippograph" (graph + PPR), "dense",
        "bm25" (the question's words) or "hybrid" (dense and bm25 fused by rank).

        `since` / `until` keep only notes whose time is in [since, until]; `as_of` searches the
        memory as it was then: notes written by then, facts valid then.
        """
        if not isinstance(text, str) or not text.strip():
            raise QueryError("the query text is empty")
        if not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a whole number of at least 1, not {k!r}")
        if method not in METHODS:
            raise QueryError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        namespace = checked_namespace(namespace, QueryError)
        window = [
            None if t is None else to_utc(t, name, QueryError)
            for name, t in (("since", since), ("until", until), ("as_of", as_of))
        ]
        view = self._views.get(namespace, window[2], store=self._store)
        allowed = self._in_window(namespace, view, window[0], window[1])
        if view.live_passages == 0 or (allowed is not None and not (allowed & view.data.passage_alive).any()):
            return Hits()
        self._check_embedding_model()
        fact_filter = FactFilter(self.llm) if self.config.llm_fact_filter else None
        with single_blas_thread():  # numpy's spinning BLAS threads would slow the model's own
            query_vector = self._embedder.embed([text])[0]
        lexical, (matches, rare) = None, lexical_reads(method, self.config)
        if matches or rare:
            lexical = lexical_matches(
                self._store, self._views, namespace, view, text, matches, self.config.lexical_common_notes, rare
            )
        # The graph's method reads the neighbourhood; dense and hybrid read the passages nearest
        # with their vectors (no hops), where the store searches them and the client holds none.
        server_dense = self._views.vectors_in_store and method in ("dense", "hybrid")
        if self._views.passages_only and (method == "hippograph" or server_dense):
            view, lexical = neighbourhood_view(
                self._store,
                self._views,
                view,
                namespace,
                text,
                query_vector,
                self.config,
                max(k, self.config.lexical_matches) if method == "hybrid" else k,
                allowed,
                window[2],
                lexical,
                0 if server_dense else None,
            )
            allowed = self._in_window(namespace, view, window[0], window[1])
        return search(view, self._store, text, query_vector, k, method, allowed, self.config, fact_filter, lexical)

    def _in_window(self, namespace: str, view: GraphView, since: str | None, until: str | None) -> np.ndarray | None:
        """A mask of the notes of `view` said in [since, until], or whose text names a day in it."""
        if since is None and until is None:
            return None
        named = self._store.passages_naming_days(namespace, since, until)
        return in_window(view.data.passage_times, since, until, self._views.passage_slots(namespace, view, named))

    def subgraph(
        self, text: str, k: int = 5, *, namespace: str | None = None, **query_options: Any
    ) -> networkx.MultiDiGraph:
        """The graph behind `query(text, k, ...)` (same options) as a `networkx.MultiDiGraph`: the
        question's seed entities, the passages returned and the nodes on the paths between them,
        with every edge among them. Nodes carry `kind` ("entity" | "passage"), `name` (entities),
        `title`, `text`, `document` and `time` (passages), `label`, `score` (PageRank mass),
        `seed` (restart weight) and `rank` (returned passages); edges carry `kind` ("fact" |
        "mention" | "topic" | "synonym" | "link"), `weight` and, for facts, `relation`. See
        `hippograph.graph.export` for every attribute; `hippograph.viz.draw` draws it."""
        return self.query(text, k, namespace=namespace, **query_options).subgraph()

    def to_networkx(self, namespace: str | None = None) -> networkx.MultiDiGraph:
        """The whole graph of a namespace as a `networkx.MultiDiGraph`: entities and passages with
        the attributes of `subgraph` but the query's (score, seed, rank)."""
        view = self._whole_graph(namespace)
        return to_networkx(view, self._store.passages(view.data.passage_ids))

    def to_igraph(self, namespace: str | None = None) -> igraph.Graph:
        """The whole graph of a namespace as an `igraph.Graph` (directed, parallel edges kept),
        with the attributes of `to_networkx`; node ids in the vertex attribute `id`."""
        return to_igraph(self.to_networkx(namespace))

    def topics(self, namespace: str | None = None) -> list[Topic]:
        """The topics of a namespace, largest first: communities of its entity graph (facts,
        synonyms and entities mentioned together) found by igraph's Leiden algorithm
        (modularity, fixed seed: the same store gives the same topics)."""
        return find_topics(self._whole_graph(namespace))

    def _whole_graph(self, namespace: str | None) -> GraphView:
        """The whole graph of a namespace, live nodes in store order (read whole even when queries
        read neighbourhoods)."""
        return self._views.whole.get(checked_namespace(namespace, QueryError), store=self._store).compacted

    def answer(
        self,
        question: str,
        k: int = 5,
        *,
        method: str = "hippograph",
        namespace: str | None = None,
        since: Time | None = None,
        until: Time | None = None,
        as_of: Time | None = None,
    ) -> Answer:
        """An LLM's short answer to `question` from the `k` passages `query` retrieves (with the
        same options), citing the passages it used. Needs an LLM endpoint (see `Memory`)."""
        client = self.llm
        hits = self.query(question, k, method=method, namespace=namespace, since=since, until=until, as_of=as_of)
        if not hits:
            return Answer(question, "unknown", (), hits)
        return Answerer(client).answer(question, hits)

    def get(self, note_id: str, *, namespace: str | None = None) -> Note:
        """A stored note (any passage is one) of the namespace by id, with its attributes and links."""
        namespace = checked_namespace(namespace, QueryError)
        found = self._store.notes(namespace, [note_id])
        if note_id not in found:
            raise DocumentNotFound(f"no note with id {note_id!r} in namespace {namespace!r}")
        return found[note_id]

    def history(self, note_id: str, *, namespace: str | None = None) -> list[Change]:
        """Every change of a note's text or attributes since it was stored, oldest first."""
        namespace = checked_namespace(namespace, QueryError)
        self.get(note_id, namespace=namespace)
        return self._store.history(namespace, note_id)

    def facts(
        self, subject: str | None = None, *, namespace: str | None = None, as_of: Time | None = None
    ) -> list[StoredFact]:
        """The facts of a namespace (about `subject`, a name, when given), with when they held;
        with `as_of`, only those valid then."""
        namespace = checked_namespace(namespace, QueryError)
        subjects = None if subject is None else [content_hash(namespace, normalize_entity(subject))]
        facts = self._store.facts(namespace, subjects)
        if as_of is None:
            return facts
        time = to_utc(as_of, "as_of", QueryError)
        return [fact for fact in facts if fact.valid_at(time)]

    def document(self, document_id: str, *, namespace: str | None = None) -> StoredDocument:
        """A stored document by id, with the ids of its passages."""
        return self._store.document(checked_namespace(namespace, QueryError), document_id)

    def namespaces(self) -> list[str]:
        """The namespaces that hold something."""
        return self._store.namespaces()

    def stats(self, namespace: str | None = None) -> Stats:
        """Counts of the whole store, or of one namespace."""
        return self._store.stats(None if namespace is None else checked_namespace(namespace, QueryError))

    # -- moving between stores -----------------------------------------------

    def export(self, destination: str | Path | TextIO) -> dict[str, int]:
        """Write every record of this memory (all namespaces, vectors included) to a JSON-lines
        file, or to an open text file; return how many records of each type. `import_export`
        reads it into another store (see hippograph/store/transfer.py for the format)."""
        if not isinstance(destination, (str, Path)):
            return write_export(self._store.embedding_model(), self._store.records(), destination)
        return write_export_file(Path(destination), self._store.embedding_model(), self._store.records())

    def import_export(self, source: str | Path) -> dict[str, int]:
        """Read a file `export` wrote into this memory, whose store must be empty: all of it in one
        transaction, or nothing. Return how many records of each type."""
        self._check_writable()
        return import_export_file(Path(source), self._store, self._embedder.name)

    def copy_to(self, target: Memory) -> dict[str, int]:
        """Copy every record of this memory into `target`, whose store must be empty (another
        folder, or a database on a graph server): all of it in one transaction, or nothing.
        Return how many records of each type."""
        target._check_writable()
        return load_records(
            self._store.embedding_model(), self._store.records(), repr(self), target._store, target._embedder.name
        )

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Save what the next process opening the store would otherwise build: the passage indexes
        and graph views of large namespaces (see `Config.save_views_from`), and close the store.
        A namespace this memory ingested `save_views_from` passages or more into has its view
        built first, so that the first query after a bulk import loads it (at 1,000,000 passages:
        seconds instead of two minutes)."""
        self._close(build_views=True)

    def _close(self, build_views: bool) -> None:
        try:
            if self._owns_views:  # a read-only store's views are still saved in the user's cache
                if self._ingest is not None:  # the graphs its note links were found with
                    self._views.adopt_note_graphs(*self._ingest.note_indexes())
                    filled, progress = self._ingest.passages_written, self._ingest.progress
                    self._ingest.close()
                    self._ingest = None  # its neighbour indexes are let go before a view is built
                    if build_views and self.config.save_views_from is not None:
                        large = [ns for ns, count in sorted(filled.items()) if count >= self.config.save_views_from]
                        self._views.build(large, progress)
                self._views.save_indexes()
        finally:
            if self._ingest is not None:
                self._ingest.close()
            self._store.close()
            if self._owns_llm_client:
                self._llm_client.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, error: type[BaseException] | None, *_) -> None:
        self._close(build_views=error is None)  # after an error or an interrupt, close at once

    def __repr__(self) -> str:
        where = getattr(self._store, "path", type(self._store).__name__)  # a store= of one's own may have none
        return f"Memory({str(where.parent if isinstance(where, Path) else where)!r})"

    def _check_writable(self) -> None:
        """ReadOnlyStore before any work (reading, extracting, embedding) a write would waste."""
        if self._store.read_only:
            raise ReadOnlyStore(
                f"{self!r} is open read-only (asked for, or its folder cannot be written); "
                "open it writable to change it"
            )

    def _check_embedding_model(self) -> None:
        stored = self._store.embedding_model()
        if stored is not None and stored != self._embedder.name:
            raise StoreError(
                f"this store holds vectors of embedding model {stored!r}, not {self._embedder.name!r}; "
                "open it with the same model or use a new store"
            )

    def _ingestor(self) -> Ingestor:
        if self._ingest is None:
            self._ingest = Ingestor(self._store, self._extractor, self._embedder, self.config, self._notes_llm)
        return self._ingest

    def _single_note_document(self, note: Note) -> StoredDocument:
        """The document a note is the only passage of; a passage of a longer document cannot
        change alone (re-ingest or delete the document)."""
        document = self._store.document(note.namespace, note.document_id)
        if len(document.passage_ids) != 1:
            raise StoreError(
                f"note {note.id} is one of the {len(document.passage_ids)} passages of document "
                f"{document.id!r}; change the document by ingesting it again, or delete it"
            )
        return document
