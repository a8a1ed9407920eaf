"""Graph retrieval: seed the graph from the question, run Personalized PageRank, rank passages.

The restart distribution of the PageRank mixes three kinds of seeds, each normalised to
sum to 1 and then weighted (a kind with nothing to seed gives its share to the others):

- question entities (`query_entity_weight`): entities whose names appear in the question,
  each weighted by specificity (1 / number of passages mentioning it);
- linked facts (`fact_weight`, HippoRAG 2's fact linking, off by default): the
  `linking_top_k` facts most similar to the question; their subjects and objects are seeded
  with the fact's min-max normalised score divided by the entity's passage count, averaged
  over the facts they appear in;
- passages (`passage_weight`): a softmax of the passages' dense similarity to the question
  at `passage_temperature`, so the few closest passages carry the weight.

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
from ..graph.push import local_scores
from ..graph.view import GraphView
from ..types import Explanation, SeedFact
from .dense import DenseRetriever
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
        self, question: str, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[list[Ranked], Walk | None]:
        """`retrieve`'s passages and the walk that found them; no walk when it fell back to
        dense retrieval."""
        view, config = self._view, self._config
        data = view.data
        if view.live_passages == 0:
            return [], None
        alive = data.passage_alive  # a view kept up to date has dead slots
        allowed = alive if allowed is None else allowed & alive
        if view.live_entities == 0:
            return self._dense.retrieve(question, query_vector, k, allowed), None

        named = view.entity_index.named_in_question(question) if config.query_entity_weight > 0 else []
        fact_scores, top_facts = self._linked_facts(query_vector)
        if self._fact_filter is not None and len(top_facts):
            top_facts = self._filtered(question, top_facts)
        local = config.ppr_solver == "local" or (
            config.ppr_solver == "auto" and view.adjacency.size >= config.local_ppr_from_nodes
        )
        passages = self._passage_seeds(query_vector, config.seed_passages if local else None)
        entity_seeds = config.query_entity_weight * _unit_sum(
            self._question_entity_seeds(named)
        ) + config.fact_weight * _unit_sum(self._fact_entity_seeds(top_facts, fact_scores))
        seeds = np.concatenate([entity_seeds, config.passage_weight * _unit_sum(passages)])
        if seeds.sum() <= 0:  # every weight set to zero, or nothing linked
            return self._dense.retrieve(question, query_vector, k, allowed), None
        if local:
            ranks = local_scores(view.adjacency, seeds, config.damping, config.ppr_push_epsilon)
        else:
            ranks = view.pagerank.scores(seeds, config.damping, config.ppr_tolerance, config.ppr_max_iterations)
        passage_ranks = ranks[view.entity_count :]
        reached = ranks > 0 if local else None
        if reached is not None and np.count_nonzero(reached_passages := allowed & reached[view.entity_count :]) >= k:
            allowed = reached_passages  # the same top k, picked among the passages the push reached
        top = top_indexes(passage_ranks, k, allowed).tolist()
        explain = self._explainer(entity_seeds, named, top_facts, fact_scores)
        paths = view.paths_from_seeds(top, entity_seeds, reached=reached)
        ranked = [Ranked(passage, float(passage_ranks[passage]), explain(paths[passage])) for passage in top]
        return ranked, Walk(seeds, ranks, paths)

    def _explainer(self, entity_seeds: np.ndarray, named: list[int], top_facts: np.ndarray, fact_scores: np.ndarray):
        """A function from a hit's path (node indexes) to its Explanation; the parts every hit
        shares are built once."""
        view, data = self._view, self._view.data
        seed_facts = tuple(SeedFact(*self._fact_words(f), round(float(fact_scores[f]), 6)) for f in top_facts)
        seeded = np.flatnonzero(entity_seeds)
        seed_names = tuple(data.entity_names[e] for e in seeded[np.argsort(-entity_seeds[seeded], kind="stable")])
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

    def _passage_seeds(self, query_vector: np.ndarray, candidates: int | None) -> np.ndarray:
        """Each passage's seed weight: a softmax of its similarity to the question, over every live
        passage or, with `candidates`, over that many most similar ones (0 for the others)."""
        data, temperature = self._view.data, self._config.passage_temperature
        weights = np.zeros(len(data.passage_ids))
        if candidates is not None and self._view.passage_index is not None:
            top = self._view.passage_index.nearest(data, query_vector, candidates)
            if not len(top):
                return weights
            similarity = similarities(data.passage_vectors[top], query_vector)
            weights[top] = np.exp((similarity - similarity.max()) / temperature)
            return weights
        similarity = np.where(data.passage_alive, similarities(data.passage_vectors, query_vector), -np.inf)
        if candidates is None:
            return np.exp((similarity - similarity.max()) / temperature)  # 0 for a dead slot
        top = top_indexes(similarity, candidates, data.passage_alive)
        weights[top] = np.exp((similarity[top] - similarity[top[0]]) / temperature)
        return weights

    def _question_entity_seeds(self, named: list[int]) -> np.ndarray:
        weights = np.zeros(self._view.entity_count)
        for entity in named:
            weights[entity] = 1.0 / max(self._view.entity_passage_counts[entity], 1.0)
        return weights

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

    def _fact_entity_seeds(self, top_facts: np.ndarray, fact_scores: np.ndarray) -> np.ndarray:
        data, counts = self._view.data, self._view.entity_passage_counts
        weights = np.zeros(self._view.entity_count)
        occurrences = np.zeros(self._view.entity_count)
        for fact in top_facts:
            for entity in (data.fact_subjects[fact], data.fact_objects[fact]):
                weights[entity] += fact_scores[fact] / max(counts[entity], 1.0)
                occurrences[entity] += 1
        np.divide(weights, occurrences, out=weights, where=occurrences > 0)
        return weights
