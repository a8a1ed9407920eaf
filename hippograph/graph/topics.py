"""Topics: communities of a namespace's entity graph, found by igraph's Leiden algorithm.

The entity graph joins two entities by every fact between them (weight 1 each), by a
synonymy edge (its cosine similarity) and by every passage that mentions both (weight 1 each).
Leiden optimises modularity on it from a fixed seed, so the same graph gives the same topics.
A topic lists its entities by how many passages mention them; a passage counts for the topic
that holds most of the entities it mentions.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from ..types import Topic
from .view import GraphView

__all__ = ["find_topics"]

LEIDEN_SEED = 0
LEIDEN_ITERATIONS = -1  # until the partition no longer improves


def find_topics(view: GraphView, *, top: int = 8, min_entities: int = 2) -> list[Topic]:
    """The topics of `view` with at least `min_entities` entities, largest first, each naming
    its `top` most mentioned entities."""
    import igraph as ig

    entities = view.entity_count
    if entities == 0:
        return []
    weights = _entity_graph(view)
    upper = sp.triu(weights, k=1).tocoo()
    graph = ig.Graph(n=entities, edges=np.column_stack([upper.row, upper.col]).tolist(), directed=False)
    with _seeded_igraph(LEIDEN_SEED):
        partition = graph.community_leiden(objective_function="modularity", weights=upper.data.tolist(),
                                           n_iterations=LEIDEN_ITERATIONS)
    membership = np.asarray(partition.membership)
    passages_by_topic = np.bincount(_passage_topics(view, membership), minlength=membership.max() + 1)
    mentions = view.entity_passage_counts
    names = view.data.entity_names
    topics = []
    for community in range(membership.max() + 1):
        members = np.flatnonzero(membership == community)
        if len(members) < min_entities:
            continue
        order = sorted(members.tolist(), key=lambda e: (-mentions[e], names[e]))
        topics.append((len(members), community, tuple(names[e] for e in order[:top]), int(passages_by_topic[community])))
    topics.sort(key=lambda t: (-t[0], -t[3], t[2]))
    return [Topic(id=number, entities=named, size=size, passages=passages)
            for number, (size, _, named, passages) in enumerate(topics, 1)]


def _entity_graph(view: GraphView) -> sp.csr_matrix:
    """Symmetric entity–entity weights: facts, synonyms and shared passages."""
    data, entities = view.data, view.entity_count
    facts = sp.coo_matrix((np.ones(len(data.fact_relations)), (data.fact_subjects, data.fact_objects)),
                          shape=(entities, entities))
    synonyms = sp.coo_matrix((data.synonym_weights, (data.synonym_a, data.synonym_b)), shape=(entities, entities))
    incidence = sp.coo_matrix((np.ones(len(data.mention_passages)), (data.mention_passages, data.mention_entities)),
                              shape=(view.passage_count, entities)).tocsr()
    incidence.data[:] = 1.0  # a passage mentioning an entity twice still shares it once
    shared = (incidence.T @ incidence).tocsr()
    both_ways = facts + facts.T + synonyms + synonyms.T
    return (shared + both_ways).tocsr()


def _passage_topics(view: GraphView, membership: np.ndarray) -> np.ndarray:
    """For each passage that mentions an entity, the topic holding most of its entities (the
    lowest-numbered community on a tie)."""
    data = view.data
    if not len(data.mention_passages):
        return np.zeros(0, dtype=np.int64)
    counts = sp.coo_matrix((np.ones(len(data.mention_passages)), (data.mention_passages,
                                                                    membership[data.mention_entities])),
                           shape=(view.passage_count, membership.max() + 1)).tocsr()
    mentioned = np.flatnonzero(np.diff(counts.indptr) > 0)
    return np.asarray(counts[mentioned].argmax(axis=1)).ravel()


@contextmanager
def _seeded_igraph(seed: int) -> Iterator[None]:
    """igraph draws from one process-wide generator (Python's `random` module by default):
    give it a seeded one of its own for the `with` block, then put the default back."""
    import igraph as ig

    ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(random)
