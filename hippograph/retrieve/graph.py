"""Graph retrieval: seed the graph from the question, run Personalized PageRank, rank passages.

The restart distribution of the PageRank mixes three kinds of seeds, each normalised to
sum to 1 and then weighted (a kind with nothing to seed gives its share to the others):

- question entities (`query_entity_weight`): entities whose names appear in the question
  (capitalised, or else words few notes hold: graph/linking.names_in_question), each weighted by
  specificity (1 / number of passages mentioning it);
- linked facts (`fact_weight`, HippoRAG 2's fact linking, off by default): the
  `linking_top_k` facts most similar to the question; their subjects and objects are seeded
  with the fact's min-max normalised score divided by the entity's passage count, averaged
  over the facts they appear in;
- passages (`passage_weight`): a softmax of the passages' dense similarity to the question
  at `passage_temperature`, so the few closest passages carry the weight;
- lexical matches (`lexical_weight`): the `lexical_matches` passages that best match the
  question's words by BM25 (retrieve/lexical.py), in proportion to their scores.

PageRank with `damping` then spreads the mass along facts, mentions, synonymy and title
and note-link edges; passages are ranked by the mass they hold (only those of a time window,
when the caller gives an `allowed` mask). On a large graph (`Config.ppr_solver`) the passages
seeded are only the `seed_passages` most similar ones and PageRank is solved locally by push
(graph/push.py): the query's work grows with the neighbourhood its seeds reach. With no entity
in the store, or no seed weight at all, it falls back to dense retrieval.
"""

from __future__ import annotations

import logging

import numpy as np

from ..config import Config
from ..errors import LLMCallFailed
from ..graph.push import pushed
from ..graph.view import GraphView
from ..types import Explanation, SeedFact
from .dense import DenseRetriever
from .lexical import LexicalMatches
from .ranked import Ranked, Walk, similarities, top_indexes
from .recognition import FactFilter

log = logging.getLogger(__name__)


def _min_max(scores: np.ndarray) -> np.ndarray:
    low, high = scores.min(), scores.max()
    if high - low < 1e-12:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def _unit_sum(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    return weights / total if total > 0 else weights


def _mixed(*parts: tuple[float, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The sum of sparse weight vectors (share, nodes, weights), each scaled to sum to its share
    first, as (nodes ascending, their positive weights): a query's seeds without an array over
    every node of the graph."""
    nodes = np.concatenate([part_nodes for _, part_nodes, _ in parts]).astype(np.int64)
    weights = np.concatenate([share * _unit_sum(part_weights) for share, _, part_weights in parts])
    distinct, where = np.unique(nodes, return_inverse=True)
    summed = np.bincount(where, weights=weights, minlength=len(distinct))
    return distinct[summed > 0], summed[summed > 0]


class GraphRetriever:
    """`fact_filter`, when given, lets an LLM drop linked facts that do not bear on the question."""

    def __init__(self, view: GraphView, config: Config, fact_filter: FactFilter | None = None) -> None:
        self._view = view
        self._config = config
        self._dense = DenseRetriever(view)
        self._fact_filter = fact_filter

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[Ranked]:
        """The k passages with the most PageRank mass from the question's seeds (among those
        `allowed`, a bool mask, if given), each with its explanation."""
        return self.walk(question, query_vector, k, allowed)[0]

    def walk(
        self,
        question: str,
        query_vector: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        lexical: LexicalMatches | None = None,
    ) -> tuple[list[Ranked], Walk | None]:
        """`retrieve`'s passages and the walk that found them; no walk when it fell back to
        dense retrieval. `lexical`: the question's BM25 matches, seeded at `lexical_weight`, and
        its rare words, which entity linking may take for names."""
        lexical = LexicalMatches.none() if lexical is None else lexical
        view, config = self._view, self._config
        data = view.data
        if view.live_passages == 0:
            return [], None
        alive = data.passage_alive  # a view kept up to date has dead slots
        allowed = alive if allowed is None else allowed & alive
        if view.live_entities == 0:
            return self._dense.retrieve(question, query_vector, k, allowed), None

        named = []
        if config.query_entity_weight > 0:
            named = view.entity_index.named_in_question(question, lexical.rare_words)
        fact_scores, top_facts = self._linked_facts(query_vector)
        if self._fact_filter is not None and len(top_facts):
            top_facts = self._filtered(question, top_facts)
        local = config.ppr_solver == "local" or (
            config.ppr_solver == "auto" and view.adjacency.size >= config.local_ppr_from_nodes
        )
        passage_slots, passage_weights = self._passage_seeds(query_vector, config.seed_passages if local else None)
        seed_nodes, seed_weights = _mixed(
            (config.query_entity_weight, *self._question_entity_seeds(named)),
            (config.fact_weight, *self._fact_entity_seeds(top_facts, fact_scores)),
            (config.passage_weight, passage_slots + view.entity_count, passage_weights),
            (config.lexical_weight, lexical.slots + view.entity_count, lexical.scores),
        )
        if not len(seed_nodes):  # every weight set to zero, or nothing linked
            return self._dense.retrieve(question, query_vector, k, allowed), None
        reached = None
        if local:
            ranks, reached_nodes = pushed(
                view.adjacency, seed_nodes, seed_weights, config.damping, config.ppr_push_epsilon
            )
            reached = np.zeros(view.adjacency.size, dtype=bool)
            reached[reached_nodes] = True
            candidates = reached_nodes[reached_nodes >= view.entity_count] - view.entity_count
            candidates = candidates[allowed[candidates]]
        else:
            seeds = np.zeros(view.adjacency.size)
            seeds[seed_nodes] = seed_weights
            ranks = view.pagerank.scores(seeds, config.damping, config.ppr_tolerance, config.ppr_max_iterations)
        passage_ranks = ranks[view.entity_count :]
        if reached is not None and len(candidates) >= k:  # the same top k, picked among the passages the push reached
            top = candidates[top_indexes(passage_ranks[candidates], k)].tolist()
        else:
            top = top_indexes(passage_ranks, k, allowed).tolist()
        entities = seed_nodes < view.entity_count
        entity_seeds = seed_nodes[entities], seed_weights[entities]
        explain = self._explainer(entity_seeds, named, top_facts, fact_scores)
        paths = view.paths_from_seeds(top, *entity_seeds, reached=reached)
        ranked = [Ranked(passage, float(passage_ranks[passage]), explain(paths[passage])) for passage in top]
        return ranked, Walk(seed_nodes, seed_weights, ranks, paths)

    def _explainer(
        self,
        entity_seeds: tuple[np.ndarray, np.ndarray],
        named: list[int],
        top_facts: np.ndarray,
        fact_scores: np.ndarray,
    ):
        """A function from a hit's path (node indexes) to its Explanation; the parts every hit
        shares are built once. `entity_seeds`: the seeded entities (ascending) and their weights."""
        view, data = self._view, self._view.data
        seed_facts = tuple(SeedFact(*self._fact_words(f), round(float(fact_scores[f]), 6)) for f in top_facts)
        seeded, weights = entity_seeds
        seed_names = tuple(data.entity_names[e] for e in seeded[np.argsort(-weights, kind="stable")].tolist())
        question_names = tuple(data.entity_names[e] for e in named)
        return lambda path: Explanation("hippograph", seed_facts, seed_names, view.describe_path(path), question_names)

    def _filtered(self, question: str, top_facts: np.ndarray) -> np.ndarray:
        """The linked facts the LLM keeps; all of them when its call fails (logged)."""
        try:
            return top_facts[self._fact_filter.relevant(question, [self._fact_words(f) for f in top_facts])]
        except LLMCallFailed as err:
            log.warning("the LLM fact filter failed (%s); using the linked facts unfiltered", err)
            return top_facts

    def _fact_words(self, fact: int) -> tuple[str, str, str]:
        data = self._view.data
        return (
            data.entity_names[data.fact_subjects[fact]],
            data.fact_relations[fact],
            data.entity_names[data.fact_objects[fact]],
        )

    def _passage_seeds(self, query_vector: np.ndarray, candidates: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The seeded passages' slots and weights: a softmax of their similarity to the question,
        over every live passage or, with `candidates`, over that many most similar ones."""
        data, temperature = self._view.data, self._config.passage_temperature
        if candidates is not None and self._view.passage_index is not None:
            top = self._view.passage_index.nearest(data, query_vector, candidates)
            if not len(top):
                return top, np.zeros(0)
            similarity = similarities(data.passage_vectors[top], query_vector)
            return top, np.exp((similarity - similarity.max()) / temperature)
        similarity = np.where(data.passage_alive, similarities(data.passage_vectors, query_vector), -np.inf)
        if candidates is None:
            live = np.flatnonzero(data.passage_alive)
            return live, np.exp((similarity[live] - similarity.max()) / temperature)
        top = top_indexes(similarity, candidates, data.passage_alive)
        return top, np.exp((similarity[top] - similarity[top[0]]) / temperature)

    def _question_entity_seeds(self, named: list[int]) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.array(named, dtype=np.int64)
        return nodes, 1.0 / np.maximum(self._view.entity_passage_counts[nodes], 1.0)

    def _linked_facts(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every fact's min-max normalised similarity to the query (0 for facts without a
        vector), and the top facts; no scores and no facts when fact linking is off or no fact
        has a vector (nothing of the facts is read: a million passages state millions)."""
        data = self._view.data
        nothing = np.zeros(0), np.zeros(0, dtype=np.int64)
        if self._config.fact_weight <= 0 or len(data.fact_vectors) == 0:
            return nothing
        linkable = np.flatnonzero(data.fact_has_vector)  # a kept view may hold vectors of deleted facts only
        if len(linkable) == 0:
            return nothing
        scores = np.zeros(len(data.fact_relations))
        scores[linkable] = _min_max(similarities(data.fact_vectors[data.fact_vector_rows[linkable]], query_vector))
        return scores, linkable[top_indexes(scores[linkable], self._config.linking_top_k)]

    def _fact_entity_seeds(self, top_facts: np.ndarray, fact_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The entities of the linked facts, each with its facts' scores over its passage count,
        averaged over the facts it appears in."""
        data, counts = self._view.data, self._view.entity_passage_counts
        weights: dict[int, list[float]] = {}
        for fact in top_facts.tolist():
            for entity in (int(data.fact_subjects[fact]), int(data.fact_objects[fact])):
                weights.setdefault(entity, []).append(fact_scores[fact] / max(counts[entity], 1.0))
        nodes = np.array(sorted(weights), dtype=np.int64)
        return nodes, np.array([sum(weights[e]) / len(weights[e]) for e in nodes.tolist()])
