"""One search of a namespace's graph view: the retriever a method names, run on the notes of a
time window, and its ranking shaped into hits (with the subgraph behind them, built on demand)."""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

import numpy as np

from ..config import Config
from ..graph.view import GraphView
from ..store.base import Store
from ..threads import single_blas_thread
from ..time_expressions import asks_when
from ..types import Explanation, Hit, Hits
from .dense import DenseRetriever
from .graph import GraphRetriever
from .lexical import LexicalMatches, reciprocal_rank_fusion
from .ranked import Ranked
from .recognition import FactFilter
from .subgraph import query_subgraph, subgraph_nodes

__all__ = ["METHODS", "Method", "in_window", "lexical_reads", "search"]

# "hippograph": GraphRetriever (graph + PageRank); "dense": DenseRetriever; "bm25": the lexical
# channel alone; "hybrid": dense and bm25 fused by reciprocal rank (the baseline to beat)
Method = Literal["hippograph", "dense", "bm25", "hybrid"]
METHODS: tuple[str, ...] = get_args(Method)
# A question that asks when re-ranks this many times k of its best passages, dated ones first
DATED_DEPTH = 3


def in_window(
    times: np.ndarray, since: str | None, until: str | None, naming: np.ndarray | None = None
) -> np.ndarray | None:
    """A mask of the notes whose time (UTC ISO) is in [since, until], and of those at the slots
    `naming` (notes whose text names a day in it; -1: none); None when there is no window.

    >>> in_window(np.array(["2024-01-01", "2024-06-01"]), "2024-03-01", None, np.array([0])).tolist()
    [True, True]
    """
    if since is None and until is None:
        return None
    allowed = np.ones(len(times), dtype=bool)
    if since is not None:
        allowed &= times >= since
    if until is not None:
        allowed &= times <= until
    if naming is not None:
        allowed[naming[naming >= 0]] = True
    return allowed


def lexical_reads(method: str, config: Config) -> tuple[int, int]:
    """What `method` reads of the lexical index: how many BM25 matches of the question, and the
    number of notes at most that hold a question word taken for a name (Config.rare_word_notes);
    0 for what it does not read."""
    if method in ("bm25", "hybrid"):
        return config.lexical_matches, 0
    if method == "hippograph":
        return (config.lexical_matches if config.lexical_weight > 0 else 0), config.rare_word_notes
    return 0, 0


def search(
    view: GraphView,
    store: Store,
    text: str,
    query_vector: np.ndarray,
    k: int,
    method: str,
    allowed: np.ndarray | None,
    config: Config,
    fact_filter: FactFilter | None = None,
    lexical: LexicalMatches | None = None,
) -> Hits:
    """The k best passages of `view` for the question (`allowed`: a mask of the passages that may
    be returned), read from `store`, with why each came. `lexical`: the question's BM25 matches
    in `view`, and its rare words, which the methods of `lexical_reads` need."""
    lexical = LexicalMatches.none() if lexical is None else lexical
    with single_blas_thread():
        if method == "dense":
            ranked, walk = DenseRetriever(view).retrieve(text, query_vector, k, allowed), None
        elif method == "bm25":
            ranked, walk = _bm25(lexical, k, allowed), None
        elif method == "hybrid":
            ranked, walk = _hybrid(view, text, query_vector, k, allowed, lexical, config.lexical_matches), None
        else:
            when = config.dated_weight > 0 and asks_when(text)
            retriever = GraphRetriever(view, config, fact_filter)
            ranked, walk = retriever.walk(text, query_vector, k * DATED_DEPTH if when else k, allowed, lexical)
            if when:
                ranked = _dated_first(ranked, view, store, config.dated_weight)[:k]
    # The passages on the paths too, so that the hits can give their subgraph later.
    passages = store.passages(
        view.node_id(node) for node in subgraph_nodes(view, ranked, walk) if node >= view.entity_count
    )
    hits = []
    for r in ranked:
        passage = passages[view.data.passage_ids[r.passage]]
        hits.append(
            Hit(
                id=passage.id,
                document_id=passage.document_id,
                title=passage.title,
                text=passage.text,
                score=r.score,
                explanation=r.explanation,
                time=passage.time,
            )
        )
    return Hits(hits, subgraph=lambda: query_subgraph(view, ranked, walk, passages))


def _dated_first(ranked: list[Ranked], view: GraphView, store: Store, weight: float) -> list[Ranked]:
    """`ranked` with the score of each note whose text names a time (TimeMention) raised by
    `weight` times itself, best first again."""
    passages = store.passages(view.data.passage_ids[r.passage] for r in ranked)
    scored = [
        dataclasses.replace(r, score=r.score * (1 + weight)) if passages[view.data.passage_ids[r.passage]].times else r
        for r in ranked
    ]
    return sorted(scored, key=lambda r: -r.score)


def _bm25(lexical: LexicalMatches, k: int, allowed: np.ndarray | None) -> list[Ranked]:
    scores = dict(zip(lexical.slots.tolist(), lexical.scores.tolist()))
    explanation = Explanation(method="bm25")
    return [Ranked(slot, scores[slot], explanation) for slot in lexical.ranking(allowed)[:k].tolist()]


def _hybrid(
    view: GraphView,
    text: str,
    query_vector: np.ndarray,
    k: int,
    allowed: np.ndarray | None,
    lexical: LexicalMatches,
    depth: int,
) -> list[Ranked]:
    """Dense retrieval's and BM25's top `depth` passages fused by reciprocal rank."""
    dense = [r.passage for r in DenseRetriever(view).retrieve(text, query_vector, depth, allowed)]
    rankings = [np.array(dense, dtype=np.int64), lexical.ranking(allowed)[:depth]]
    fused, scores = reciprocal_rank_fusion(rankings, k)
    explanation = Explanation(method="hybrid")
    return [Ranked(slot, score, explanation) for slot, score in zip(fused.tolist(), scores.tolist())]
