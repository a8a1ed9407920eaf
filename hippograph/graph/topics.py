"""Topics: communities of a namespace's entity graph, found by igraph's Leiden algorithm.

The entity graph joins two entities by every fact between them (weight 1 each), by a
synonymy edge (its cosine similarity) and by every passage that mentions both (weight 1 each).
Quantities and dates ("1998", "first", "two", "May 2010") are left out: they join passages that
have nothing else in common (on MuSiQue they led 28 of 95 topics, "first, two, three, ...").
Leiden optimises modularity on it from a fixed seed, so the same graph gives the same topics.
A topic lists its entities by how many passages mention them; a passage counts for the topic
that holds most of the entities it mentions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from ..types import Topic
from .view import GraphView

__all__ = ["find_topics"]

LEIDEN_SEED = 0
# igraph's default; running until nothing improves took 0.9 s instead of 0.15 s on MuSiQue's
# 25,719 nodes for a modularity of 0.713 instead of 0.710.
LEIDEN_ITERATIONS = 2
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred thousand million billion first second third fourth fifth sixth seventh eighth ninth "
    "tenth last once twice dozen half annual annually monthly weekly daily"
)
_MONTHS = "january february march april may june july august september october november december"
_QUANTITY = re.compile(
    rf"^(?:[\d\s.,/:%+\-–]*\d[\d\s.,/:%+\-–]*|\d+(?:st|nd|rd|th|s)|(?:{'|'.join(_NUMBER_WORDS.split())})|"
    rf"(?:(?:the )?\d{{1,2}}(?:st|nd|rd|th)? )?(?:{'|'.join(_MONTHS.split())})"
    rf"(?: \d{{1,2}}(?:st|nd|rd|th)?)?,?(?: \d{{4}})?)$"
)


def find_topics(view: GraphView, *, top: int = 8, min_entities: int = 2) -> list[Topic]:
    """The topics of `view` with at least `min_entities` entities, largest first, each naming
    its `top` most mentioned entities."""
    import igraph as ig

    entities = view.entity_count
    if entities == 0:
        return []
    weights = _entity_graph(view)
    quantities = np.array([is_quantity(name) for name in view.data.entity_names], dtype=bool)
    upper = sp.triu(weights, k=1).tocoo()
    kept = ~(quantities[upper.row] | quantities[upper.col])
    rows, cols, edge_weights = upper.row[kept], upper.col[kept], upper.data[kept]
    graph = ig.Graph(n=entities, edges=list(zip(rows.tolist(), cols.tolist())), directed=False)
    with _seeded_igraph(LEIDEN_SEED):
        partition = graph.community_leiden(
            objective_function="modularity", weights=edge_weights.tolist(), n_iterations=LEIDEN_ITERATIONS
        )
    membership = np.asarray(partition.membership)
    membership[quantities] = -1  # in no topic
    passages_by_topic = np.bincount(_passage_topics(view, membership), minlength=membership.max() + 1)
    mentions = view.entity_passage_counts
    names = view.data.entity_names
    topics = []
    for community in range(membership.max() + 1):
        members = np.flatnonzero(membership == community)
        if len(members) < min_entities:
            continue
        order = sorted(members.tolist(), key=lambda e: (-mentions[e], names[e]))
        topics.append(
            (len(members), community, tuple(names[e] for e in order[:top]), int(passages_by_topic[community]))
        )
    topics.sort(key=lambda t: (-t[0], -t[3], t[2]))
    return [
        Topic(id=number, entities=named, size=size, passages=passages)
        for number, (size, _, named, passages) in enumerate(topics, 1)
    ]


def is_quantity(name: str) -> bool:
    """Whether an entity's name is a number, an ordinal, a year or a date rather than a thing."""
    return bool(_QUANTITY.match(name.lower()))


def _entity_graph(view: GraphView) -> sp.csr_matrix:
    """Symmetric entity–entity weights: facts, synonyms and shared passages."""
    data, entities = view.data, view.entity_count
    facts = sp.coo_matrix(
        (np.ones(len(data.fact_relations)), (data.fact_subjects, data.fact_objects)), shape=(entities, entities)
    )
    synonyms = sp.coo_matrix((data.synonym_weights, (data.synonym_a, data.synonym_b)), shape=(entities, entities))
    incidence = sp.coo_matrix(
        (np.ones(len(data.mention_passages)), (data.mention_passages, data.mention_entities)),
        shape=(view.passage_count, entities),
    ).tocsr()
    incidence.data[:] = 1.0  # a passage mentioning an entity twice still shares it once
    shared = (incidence.T @ incidence).tocsr()
    both_ways = facts + facts.T + synonyms + synonyms.T
    return (shared + both_ways).tocsr()


def _passage_topics(view: GraphView, membership: np.ndarray) -> np.ndarray:
    """For each passage that mentions an entity of a topic, the topic holding most of its
    entities (the lowest-numbered community on a tie); `membership` is -1 for no topic."""
    data = view.data
    topics = membership[data.mention_entities]
    in_topic = topics >= 0
    if not in_topic.any():
        return np.zeros(0, dtype=np.int64)
    counts = sp.coo_matrix(
        (np.ones(int(in_topic.sum())), (data.mention_passages[in_topic], topics[in_topic])),
        shape=(view.passage_count, membership.max() + 1),
    ).tocsr()
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
