"""A query's graph read from a graph server: the neighbourhood of the question's seeds, never the
namespace's whole graph (Config.graph_reads).

The process keeps the namespace's passages alone (ids, titles, times and vectors: a view of
GraphViews(passages_only=True), brought up to date by each write like any view), so that the
passages nearest the question are found without reading vectors over the network. Where the
server has a vector index of its own (store/bolt_vectors.py), the kept passages have no vectors
and the server finds the nearest. The seeds are the `neighbourhood_seeds` nearest passages and
the entities the question names, looked up by key (`names_in_question`); the store reads the
nodes within `neighbourhood_hops` hops of them (store/neighbourhood.py), their passages get their
titles, times and vectors from the kept passages (or from the server, with the neighbourhood),
and the retriever runs on that small view as on a whole one. With no hops, the view holds the
seed passages alone: the candidates of dense retrieval where the client keeps no vectors.

How its ranking differs from the whole view's:
- PageRank spreads only inside the neighbourhood. Mass that would flow out, and back in, is lost,
  as the push of graph/push.py leaves residuals, so passages near the seeds rank as with the whole
  view and far ones are not reached.
- A hop follows the entities fewest passages mention first, up to `neighbourhood_passages`
  passages; the hubs left are in the neighbourhood but their other edges are not, so their mass
  goes only to what else reached them.
- A question names an entity by its key as stored; the whole view also matches it with accents
  folded ("Aschenbrodel" for "Aschenbrödel"), which here works only for entities the
  neighbourhood reached otherwise.
- Passage seeds are a softmax over the neighbourhood's passages, not every passage: those left
  out are far from the question, and the softmax gives them next to nothing.
- With `as_of`, the neighbourhood is read as the store is now and then cut to that time, so an
  entity's passage count (its specificity) and the `neighbourhood_passages` budget include
  passages written since.
pipelines/README.md gives the recall of both on MuSiQue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np

from ..config import Config
from ..extract.normalize import normalize_entity
from ..ids import content_hash
from ..retrieve.lexical import LexicalMatches
from ..retrieve.ranked import similarities, top_indexes
from ..store.base import Store
from ..store.graph_data import GraphData
from .linking import RareWords, names_in_question, question_phrases
from .view import GraphView

if TYPE_CHECKING:
    from .views import GraphViews

__all__ = ["neighbourhood_view"]

# Where the store searches passage vectors itself, the nearest among at most this many passages
# (a small namespace, a time window, the notes written by a time) are ranked in the process, their
# vectors read (1.5 MB of 384 numbers); among more, the store is asked for up to MAX_ASKED.
EXACT_AMONG = 1000
MAX_ASKED = 10_000


def neighbourhood_view(
    store: Store,
    views: GraphViews,
    passages: GraphView,
    namespace: str,
    question: str,
    query_vector: np.ndarray,
    config: Config,
    k: int,
    allowed: np.ndarray | None = None,
    as_of: str | None = None,
    lexical: LexicalMatches | None = None,
    hops: int | None = None,
) -> tuple[GraphView, LexicalMatches | None]:
    """The graph view of the question's neighbourhood in `namespace` (as it was at `as_of`), for a
    query of `k` hits among the passages `allowed` (a mask of the slots of `passages`, the
    namespace's passages as `views` keeps them): its seeds are the passages nearest the question,
    and as many nearest among those allowed, at least k of each, and the first
    `neighbourhood_seeds` of the question's BM25 matches `lexical` (slots of `passages`); and
    those matches in the new view. `hops`: Config.neighbourhood_hops unless given; with none, no
    entity is a seed."""
    data = passages.data
    count = max(config.neighbourhood_seeds, k)
    hops = config.neighbourhood_hops if hops is None else hops
    if views.vectors_in_store:
        alive = data.passage_alive
        nearest = _nearest_among(store, views, passages, namespace, query_vector, count, alive)
        if allowed is not None:
            nearest = np.union1d(
                nearest, _nearest_among(store, views, passages, namespace, query_vector, count, alive & allowed)
            )
    else:
        nearest = _nearest(passages, query_vector, count, None)
        if allowed is not None:
            nearest = np.union1d(nearest, _nearest(passages, query_vector, count, allowed))
    if lexical is not None:
        nearest = np.union1d(nearest, lexical.slots[:count])
    rare_words = frozenset if lexical is None else lexical.rare_words
    graph, counts = store.neighbourhood(
        namespace,
        named_entities(store, namespace, question, rare_words) if hops else [],
        [data.passage_ids[slot] for slot in nearest.tolist()],
        hops,
        config.neighbourhood_passages,
        with_passages=views.vectors_in_store,
    )
    if not views.vectors_in_store:
        graph = _with_kept_passages(graph, views, passages, namespace)
    if as_of is not None:
        graph = graph.as_of(as_of)
    view = GraphView.build(graph, config.topic_edge_weight, config.link_edge_weight)
    # Specificity counts every passage that mentions an entity, not only the neighbourhood's.
    view.entity_passage_counts = np.array([counts.get(e, 0) for e in graph.entity_ids], dtype=float)
    if lexical is not None:
        lexical = lexical.moved({passage: slot for slot, passage in enumerate(view.data.passage_ids)}, data.passage_ids)
    return view, lexical


def _with_kept_passages(graph: GraphData, views: GraphViews, passages: GraphView, namespace: str) -> GraphData:
    """`graph` (passages as ids alone) with titles, times and vectors from the kept `passages`;
    a passage written since they were read is left out."""
    data = passages.data
    slots = views.passage_slots(namespace, passages, graph.passage_ids)
    kept = (slots >= 0) & (slots < len(data.passage_ids))
    held = np.where(kept, slots, 0)
    graph = dataclasses.replace(
        graph,
        passage_titles=[data.passage_titles[slot] for slot in held.tolist()],
        passage_times=data.passage_times[held],
        passage_vectors=data.passage_vectors[held],
    )
    return graph if kept.all() else graph.kept(graph.entity_alive, kept)


def named_entities(store: Store, namespace: str, question: str, rare_words: RareWords = frozenset) -> list[str]:
    """The ids of the stored entities the question names (as EntityIndex.named_in_question finds
    them, by the key each phrase would be stored under; `rare_words` as there)."""
    found = _stored_names(store, namespace, question, ())
    if not found and (rare := rare_words()):
        found = _stored_names(store, namespace, question, rare)
    return found


def _stored_names(store: Store, namespace: str, question: str, rare_words: Collection[str]) -> list[str]:
    """named_entities, given the question's rare words: every phrase looked up in one read."""
    keys = {phrase: key for phrase in question_phrases(question, rare_words) if (key := normalize_entity(phrase))}
    ids = {phrase: content_hash(namespace, key) for phrase, key in keys.items()}
    stored = store.entity_names(set(ids.values()))
    return names_in_question(
        question, lambda phrase: ids[phrase] if ids.get(phrase) in stored else None, lambda: rare_words
    )


def _nearest_among(
    store: Store,
    views: GraphViews,
    passages: GraphView,
    namespace: str,
    query_vector: np.ndarray,
    count: int,
    among: np.ndarray,
) -> np.ndarray:
    """The slots of the `count` passages of `among` (a mask of the slots of `passages`: those of a
    time, of a window) nearest the question: ranked here from their vectors when they are few
    (`EXACT_AMONG`), else the store's nearest, asked for eight times more each time until `count`
    are among them (up to `MAX_ASKED` neighbours)."""
    data = passages.data
    if among.sum() <= EXACT_AMONG:
        ids = [data.passage_ids[slot] for slot in np.flatnonzero(among)]
        graph, _ = store.neighbourhood(namespace, [], ids, 0, 0, with_passages=True)
        if not graph.passage_ids or graph.passage_vectors.shape[1] != len(query_vector):  # all gone, or no vector
            return np.zeros(0, dtype=np.int64)
        best = top_indexes(similarities(graph.passage_vectors, query_vector), count)
        slots = views.passage_slots(namespace, passages, [graph.passage_ids[row] for row in best.tolist()])
        return slots[slots >= 0]
    asked = count
    while True:
        found = store.nearest_passages(namespace, query_vector, asked)
        slots = views.passage_slots(namespace, passages, [passage for passage, _ in found])
        slots = slots[(slots >= 0) & (slots < len(data.passage_ids))]  # one written since is not kept
        slots = slots[among[slots]]
        if len(slots) >= count or len(found) < asked or asked >= MAX_ASKED:
            return slots[:count]
        asked = min(8 * asked, MAX_ASKED)


def _nearest(passages: GraphView, query_vector: np.ndarray, count: int, allowed: np.ndarray | None) -> np.ndarray:
    """The slots of the `count` live passages nearest the question (among those `allowed`)."""
    data = passages.data
    if passages.passage_index is not None and allowed is None:
        return passages.passage_index.nearest(data, query_vector, count)
    alive = data.passage_alive if allowed is None else data.passage_alive & allowed
    return top_indexes(similarities(data.passage_vectors, query_vector), count, alive)
