"""Graph retrieval in the HippoRAG 2 manner: link the query to facts, seed entities, run PPR.

1. Score every fact against the query; keep the top `linking_top_k`.
2. Seed each entity of a kept fact with the fact's (min-max normalised) score
   divided by the number of passages that mention it, averaged over the kept
   facts it appears in: rare entities weigh more.
3. Seed every passage with its normalised dense score times `passage_seed_weight`.
4. Personalized PageRank with `damping`; rank passages by their mass.
With no fact in the store, fall back to dense retrieval.
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..graph.view import GraphView
from ..types import Explanation, SeedFact
from .dense import DenseRetriever
from .ranked import Ranked, top_indexes


def _min_max(scores: np.ndarray) -> np.ndarray:
    low, high = scores.min(), scores.max()
    if high - low < 1e-12:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


class GraphRetriever:
    def __init__(self, view: GraphView, config: Config) -> None:
        self._view = view
        self._config = config
        self._dense = DenseRetriever(view)

    def retrieve(self, query_vector: np.ndarray, k: int) -> list[Ranked]:
        view, config = self._view, self._config
        data = view.data
        if view.passage_count == 0:
            return []
        if len(data.fact_relations) == 0:
            return self._dense.retrieve(query_vector, k)

        fact_scores = _min_max((data.fact_vectors @ query_vector).astype(np.float64))
        top_facts = top_indexes(fact_scores, config.linking_top_k)
        entity_seeds = self._entity_seeds(top_facts, fact_scores)
        passage_scores = _min_max((data.passage_vectors @ query_vector).astype(np.float64)) * config.passage_seed_weight
        seeds = np.concatenate([entity_seeds, passage_scores])
        ranks = view.pagerank(seeds, config.damping, config.ppr_tolerance, config.ppr_max_iterations)
        passage_ranks = ranks[view.entity_count :]

        seed_facts = tuple(
            SeedFact(data.entity_names[data.fact_subjects[f]], data.fact_relations[f],
                     data.entity_names[data.fact_objects[f]], round(float(fact_scores[f]), 6))
            for f in top_facts
        )
        seed_count = int(np.count_nonzero(entity_seeds))
        seed_names = tuple(data.entity_names[e] for e in top_indexes(entity_seeds, seed_count))
        hits = []
        for passage in top_indexes(passage_ranks, k):
            path = view.describe_path(view.path_from_seeds(int(passage), entity_seeds))
            explanation = Explanation("hippograph", seed_facts, seed_names, path)
            hits.append(Ranked(int(passage), float(passage_ranks[passage]), explanation))
        return hits

    def _entity_seeds(self, top_facts: np.ndarray, fact_scores: np.ndarray) -> np.ndarray:
        data, counts = self._view.data, self._view.entity_passage_counts
        weights = np.zeros(self._view.entity_count)
        occurrences = np.zeros(self._view.entity_count)
        for fact in top_facts:
            for entity in (data.fact_subjects[fact], data.fact_objects[fact]):
                share = fact_scores[fact] / counts[entity] if counts[entity] > 0 else fact_scores[fact]
                weights[entity] += share
                occurrences[entity] += 1
        np.divide(weights, occurrences, out=weights, where=occurrences > 0)
        return weights
