"""Plain records that flow through the pipeline: documents, passages, extractions, hits."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import QueryError

if TYPE_CHECKING:
    import networkx

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Document:
    """What a user gave: one text with an id, a title, where it came from and metadata."""

    text: str
    id: str | None = None
    title: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    namespace: str = DEFAULT_NAMESPACE
    timestamp: str | None = None  # when it was said or written (UTC ISO 8601); None: when stored
    # Its embedding, computed elsewhere by the memory's model (a bulk import): stored instead of
    # embedding the text, which then stays one passage (never chunked).
    vector: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class TimeMention:
    """A relative time expression of a note resolved against the note's time
    (hippograph/time_expressions.py): "yesterday" said on 8 May 2023 is 7 May 2023."""

    text: str  # as the note says it: "last Friday"
    start: str  # the first day it names (ISO 8601 date)
    end: str  # the last day it names (the same as start for a day)
    words: str  # the days in words, as a question names them: "5 May 2023", "June 2023"

    def __str__(self) -> str:
        return f"{self.text} = {self.words}"


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: the unit that is embedded, linked and retrieved (a note)."""

    id: str
    document_id: str
    position: int
    title: str
    text: str
    namespace: str = DEFAULT_NAMESPACE
    time: str | None = None  # the note's time (UTC ISO 8601); None: not stored yet, no time given
    speaker: str | None = None  # who said it (its document's metadata "speaker"): an entity of the note
    times: tuple[TimeMention, ...] = ()  # the time expressions of its text, resolved (once stored)

    @property
    def embedding_text(self) -> str:
        """The text whose embedding represents the passage: title line, then body."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Triple:
    """A subject–relation–object fact as an extractor found it, before normalisation."""

    subject: str
    relation: str
    object: str


@dataclass
class Extraction:
    """What an extractor found in one passage: entity phrases and triples; `error` says why
    extraction failed (the passage is stored with the failure recorded, to retry later)."""

    entities: list[str] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class NoteAttributes:
    """What a note says about itself (A-MEM): keywords (most specific first), tags, and a
    one-line context."""

    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    context: str = ""


@dataclass(frozen=True)
class Link:
    """A link from a note to a related note of its namespace: its kind ("similar", "llm"),
    why it was made, and its weight as a graph edge."""

    note_id: str
    kind: str
    reason: str
    weight: float


@dataclass(frozen=True)
class Note:
    """A stored memory: a passage with its note attributes, times and links."""

    id: str
    namespace: str
    document_id: str
    text: str
    title: str
    keywords: tuple[str, ...]
    tags: tuple[str, ...]
    context: str
    created_at: str  # the note's time (UTC ISO 8601)
    updated_at: str | None  # last change of its text or attributes
    links: tuple[Link, ...]
    metadata: dict[str, Any] = field(default_factory=dict)  # its document's
    times: tuple[TimeMention, ...] = ()  # the relative time expressions of its text, resolved

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a note."""
        return {
            **{k: v for k, v in self.__dict__.items() if k != "links"},
            "keywords": list(self.keywords),
            "tags": list(self.tags),
            "links": [link.__dict__ for link in self.links],
            "times": [mention.__dict__ for mention in self.times],
        }

    def __str__(self) -> str:
        """The note as readable text: id, time, text, attributes and links."""
        lines = [
            f"note {self.id}  [{self.document_id}]  {self.created_at}",
            textwrap.indent(textwrap.fill(self.text, 96), "   "),
            f"   keywords: {', '.join(self.keywords) or '-'}",
            f"   tags: {', '.join(self.tags) or '-'}",
            f"   context: {self.context}",
        ]
        if self.times:
            lines.append(f"   times: {'; '.join(str(mention) for mention in self.times)}")
        return "\n".join(lines + [f"   linked to {link.note_id} ({link.reason})" for link in self.links])


@dataclass(frozen=True)
class Change:
    """One change of a note's text or attribute, as its history keeps it."""

    id: int
    note_id: str
    field: str  # "text", "keywords", "tags" or "context"
    old: Any
    new: Any
    changed_by: str  # "update", "evolution" (offline), "llm-evolution" or "revert"
    source_note: str | None  # the note whose arrival caused an evolution
    changed_at: str


@dataclass(frozen=True)
class StoredFact:
    """A fact as stored: its words, the notes stating it, and when it held (valid_to None:
    it still does)."""

    subject: str
    relation: str
    object: str
    valid_from: str | None
    valid_to: str | None
    note_ids: tuple[str, ...]

    def valid_at(self, time: str) -> bool:
        return (self.valid_from is None or self.valid_from <= time) and (self.valid_to is None or time < self.valid_to)

    def __str__(self) -> str:
        until = f" until {self.valid_to}" if self.valid_to else ""
        return f"({self.subject}, {self.relation}, {self.object}) from {self.valid_from}{until}"


@dataclass(frozen=True)
class SeedFact:
    """A stored fact that the query was linked to, with its similarity score."""

    subject: str
    relation: str
    object: str
    score: float

    def __str__(self) -> str:
        return f"({self.subject}, {self.relation}, {self.object})"


@dataclass(frozen=True)
class Explanation:
    """Why a passage was retrieved: the question's entities, the linked facts, the seed
    entities by weight, and the path from a seed entity to the passage."""

    method: str
    seed_facts: tuple[SeedFact, ...] = ()
    seed_entities: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    question_entities: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of an explanation: plain lists and numbers, with `why` as one sentence."""
        return {
            "method": self.method,
            "why": str(self),
            "question_entities": list(self.question_entities),
            "seed_facts": [
                dict(subject=f.subject, relation=f.relation, object=f.object, score=f.score) for f in self.seed_facts
            ],
            "seed_entities": list(self.seed_entities),
            "path": list(self.path),
        }

    def __str__(self) -> str:
        if self.method == "dense":
            return "dense similarity to the query"
        if self.method == "bm25":
            return "the query's words in the passage (BM25)"
        if self.method == "hybrid":
            return "dense similarity and the query's words (BM25), fused by rank"
        if not self.path:
            if not self.seed_entities:
                return "PageRank mass from the passages closest to the query"
            return "PageRank mass from the seed entities: " + ", ".join(self.seed_entities)
        route = " -> ".join(self.path)
        if self.path[0] in self.question_entities:
            return f"the question names {self.path[0]}; {route}"
        fact = next((f for f in self.seed_facts if self.path[0] in (f.subject, f.object)), None)
        return f"linked fact {fact}; {route}" if fact else route


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its score and explanation."""

    id: str
    document_id: str
    title: str
    text: str
    score: float
    explanation: Explanation
    time: str | None = None  # the note's time (UTC ISO 8601)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a hit (as `hippograph query --json` prints it)."""
        return {
            "id": self.id,
            "document_id": self.document_id,
            "title": self.title,
            "text": self.text,
            "score": self.score,
            "time": self.time,
            "why": str(self.explanation),
        }


class Hits(list):
    """A ranked list of hits. `subgraph()` gives the graph behind them; in Jupyter they render
    as a table and, below it, that graph drawn (with matplotlib, when it is installed)."""

    def __init__(self, hits: Iterable[Hit] = (), subgraph: Callable[[], Any] | None = None) -> None:
        super().__init__(hits)
        self._subgraph = subgraph
        self._graph = None

    def subgraph(self) -> networkx.MultiDiGraph:
        """The question's seed entities, these passages and the paths between them, as a
        networkx graph (see `Memory.subgraph` for its attributes); built once, on first use."""
        if self._subgraph is None:
            raise QueryError("these hits hold no graph: only Memory.query's hits do")
        if self._graph is None:
            self._graph = self._subgraph()
        return self._graph

    def __str__(self) -> str:
        """The hits as readable text: the question's entities and linked facts once, then each
        passage and why it came (as `hippograph query` prints them)."""
        lines = []
        explanation = self[0].explanation if self else None
        if explanation and explanation.question_entities:
            lines.append("question names: " + ", ".join(explanation.question_entities))
        if explanation and explanation.seed_facts:
            lines.append("linked facts: " + "; ".join(str(f) for f in explanation.seed_facts))
        for rank, hit in enumerate(self, 1):
            lines.append(f"\n{rank}. {hit.title or hit.document_id}  [{hit.document_id}]  score {hit.score:.4f}")
            lines.append(textwrap.indent(textwrap.fill(hit.text, 96), "   "))
            lines.append(f"   why: {hit.explanation}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            f"<td>{rank}</td><td>{hit.score:.4f}</td>"
            f"<td>{html.escape(hit.document_id)}</td><td>{html.escape(hit.title)}</td>"
            f"<td>{html.escape(hit.text)}</td><td>{html.escape(str(hit.explanation))}</td>"
            "</tr>"
            for rank, hit in enumerate(self, 1)
        )
        head = "<tr><th>#</th><th>score</th><th>document</th><th>title</th><th>text</th><th>why</th></tr>"
        return f"<table>{head}{rows}</table>{self._drawing()}"

    def _drawing(self) -> str:
        """The subgraph as inline SVG, or nothing when there is none to draw."""
        if self._subgraph is None or not self:
            return ""
        try:
            from .viz import to_svg
        except ImportError:  # matplotlib is optional: the table alone
            return ""
        return to_svg(self.subgraph())


@dataclass(frozen=True)
class Answer:
    """An LLM's answer to a question from retrieved passages, with the passages it cites."""

    question: str
    text: str
    citations: tuple[Hit, ...]  # the retrieved passages the answer rests on, as the model cited them
    hits: Hits  # every passage given to the model, best first

    def __str__(self) -> str:
        sources = [
            f"  [{self.hits.index(hit) + 1}] {hit.title or hit.document_id} ({hit.document_id})"
            for hit in self.citations
        ]
        return self.text + ("\ncited:\n" + "\n".join(sources) if sources else "\n(no passage cited)")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of an answer (as `hippograph answer --json` prints it)."""
        return {
            "question": self.question,
            "answer": self.text,
            "citations": [hit.id for hit in self.citations],
            "hits": [hit.to_dict() for hit in self.hits],
        }


@dataclass(frozen=True)
class StoredDocument:
    """A document as the store keeps it, with the ids of its passages."""

    id: str
    title: str
    source: str
    metadata: dict[str, Any]
    content_hash: str
    passage_ids: tuple[str, ...]
    namespace: str = DEFAULT_NAMESPACE


@dataclass
class IngestReport:
    """Counts of what one ingest call did; `entities` and `facts` are the net change its writes made
    (not counting what another process wrote at the same time)."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    skipped: int = 0
    passages: int = 0
    entities: int = 0
    facts: int = 0
    embedded: int = 0
    seconds: float = 0.0
    failed: int = 0  # passages stored with a recorded extraction failure
    notes_offline: int = 0  # with Config.llm_notes: LLM note calls that failed, offline attributes or links used
    llm_usage: str | None = None  # model calls, cache hits and tokens, when an LLM was used

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.replaced} replaced, {self.unchanged} unchanged, "
            f"{self.skipped} skipped; {self.passages} passages written, entities {self.entities:+d}, "
            f"facts {self.facts:+d}, {self.embedded} texts embedded in {self.seconds:.1f} s"
        )
        if self.failed:
            text += f"; extraction failed for {self.failed} passage(s) (retry with --retry-failed)"
        if self.notes_offline:
            text += f"; {self.notes_offline} LLM note call(s) failed, offline attributes or links used instead"
        if self.llm_usage:
            text += f"\n{self.llm_usage}"
        return text


@dataclass(frozen=True)
class Stats:
    """Sizes of a memory."""

    documents: int
    passages: int
    entities: int
    facts: int
    mentions: int
    synonym_edges: int
    embeddings: int
    path: str
    size_bytes: int
    failed_extractions: int = 0  # passages stored without the graph records extraction failed to give
    links: int = 0  # note–note links

    def __str__(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.__dict__.items())


@dataclass(frozen=True)
class Topic:
    """A community of the entity graph (see `Memory.topics`): its most mentioned entities first,
    how many entities it holds, and how many passages are mostly about it."""

    id: int
    entities: tuple[str, ...]
    size: int
    passages: int

    def __str__(self) -> str:
        return f"topic {self.id}: {', '.join(self.entities)} ({self.size} entities, {self.passages} passages)"
