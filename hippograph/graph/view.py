"""The graph view: nodes and weighted edges of one namespace, ready for PageRank and path finding.

Node order: entities first, then passages, each in the order of their slots in GraphData (id
order when read from the store; a view kept up to date by graph/delta.py appends new nodes and
leaves deleted ones dead, without edges). Edge weights: 1 per fact between two entities, 1 per
passage–entity mention, the cosine similarity for synonymy edges, `topic_weight` between a
passage and the entity its title names (the passage is *about* that entity, so a walk that
reaches the entity should mostly go on to it), and `link_weight` times the link's own weight
between linked notes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..store.graph_data import GraphData
from .adjacency import Adjacency
from .linking import EntityIndex, title_keys
from .passage_index import PassageIndex
from .ppr import PageRank
from .relations import Relations


@dataclass
class GraphView:
    data: GraphData
    adjacency: Adjacency
    entity_passage_counts: np.ndarray  # passages mentioning each entity
    relations: Relations  # (entity, entity) -> relation of a fact joining them
    entity_index: EntityIndex
    topics: dict[int, tuple[int, ...]]  # passage -> the entities its title names
    titled: dict[str, set[int]]  # match key -> the live passages whose title may name it
    topic_weight: float = 0.0  # the weight of a title edge
    link_weight: float = 1.0  # a note link's weight is this times the link's own
    passage_index: PassageIndex | None = None  # nearest passages of a large namespace (set by GraphViews)

    @functools.cached_property
    def pagerank(self) -> PageRank:
        """The global solver's system, built when a query first needs it (a large graph's queries
        use the local solver, graph/push.py, and never do)."""
        return PageRank(self.adjacency)

    @property
    def entity_count(self) -> int:
        """Entity slots, dead ones included (passage nodes start here)."""
        return len(self.data.entity_ids)

    @property
    def passage_count(self) -> int:
        """Passage slots, dead ones included."""
        return len(self.data.passage_ids)

    @property
    def live_entities(self) -> int:
        return int(self.data.entity_alive.sum())

    @property
    def live_passages(self) -> int:
        return int(self.data.passage_alive.sum())

    def node_id(self, node: int) -> str:
        """The store id of a node index (an entity's, or a passage's)."""
        if node < self.entity_count:
            return self.data.entity_ids[node]
        return self.data.passage_ids[node - self.entity_count]

    @functools.cached_property
    def compacted(self) -> GraphView:
        """This view as one read afresh from the store holds it: live nodes only, nodes and edges
        in id order (itself when it is that already). What a whole-graph export or a community
        search reads, so their output does not depend on the order of past writes."""
        data = self.data.compacted()
        return self if data is self.data else GraphView.build(data, self.topic_weight, self.link_weight)

    @classmethod
    def build(cls, data: GraphData, topic_weight: float = 0.0, link_weight: float = 1.0) -> GraphView:
        entity_index = EntityIndex(data.entity_names, data.entity_ids, data.entity_alive)
        titled: dict[str, set[int]] = {}
        if topic_weight:
            for passage in np.flatnonzero(data.passage_alive).tolist():
                for key in title_keys(data.passage_titles[passage]):
                    titled.setdefault(key, set()).add(passage)
        topics = titles_naming(data, entity_index, {p for passages in titled.values() for p in passages})
        relations = Relations.of(data)
        return cls.assemble(data, entity_index, relations, topics, titled, topic_weight, link_weight)

    @classmethod
    def assemble(
        cls,
        data: GraphData,
        entity_index: EntityIndex,
        relations: Relations,
        topics: dict[int, tuple[int, ...]],
        titled: dict[str, set[int]],
        topic_weight: float,
        link_weight: float,
        adjacency: Adjacency | None = None,
        entity_passage_counts: np.ndarray | None = None,
    ) -> GraphView:
        """The view of `data` with its name lookups given, and its adjacency and entities' passage
        counts (worked out from the arrays, vectorized, when not given)."""
        if adjacency is None:
            everything = np.arange(len(data.fact_ids)), np.arange(len(data.mention_passages))
            rows, cols, weights = edges(
                data,
                topics,
                topic_weight,
                link_weight,
                *everything,
                np.arange(len(data.synonym_a)),
                np.arange(len(data.link_a)),
            )
            adjacency = Adjacency.assembled(rows, cols, weights, len(data.entity_ids) + len(data.passage_ids))
        if entity_passage_counts is None:
            entity_passage_counts = np.bincount(data.mention_entities, minlength=len(data.entity_ids)).astype(float)
        return cls(
            data,
            adjacency,
            entity_passage_counts,
            relations,
            entity_index,
            topics,
            titled,
            topic_weight,
            link_weight,
        )

    def paths_from_seeds(
        self,
        passages: list[int],
        seed_nodes: np.ndarray,
        seed_weights: np.ndarray,
        max_hops: int = 4,
        reached: np.ndarray | None = None,
    ) -> dict[int, list[int]]:
        """For each passage, the nodes of a shortest path (fewest edges) from a seed entity (of
        `seed_nodes`, weighing `seed_weights`) to it, the heaviest seed winning among equally
        near ones; [] when no seed is within `max_hops`. With `reached` (a bool mask of the
        nodes), only through those nodes: the walk's own neighbourhood, however large the graph.

        One breadth-first search from all seeds at once, level by level, each level's nodes
        ordered by the weight of the seed they were reached from, so the first parent found
        comes from the heaviest seed. It stops when every passage is reached.
        """
        targets = np.asarray(passages, dtype=np.int64) + self.entity_count
        parent_after = np.zeros(self.adjacency.size, dtype=np.int64)  # parent + 1; 0: not reached (pages
        root_weight = np.zeros(self.adjacency.size)  # of zeros never touched cost nothing on a large graph)
        order = np.argsort(-seed_weights, kind="stable")
        frontier, weights = seed_nodes[order], seed_weights[order]
        frontier, weights = frontier[weights > 0], weights[weights > 0]
        parent_after[frontier] = frontier + 1
        root_weight[frontier] = weights
        for _ in range(max_hops):
            if not len(frontier) or (parent_after[targets] > 0).all():
                break
            sources, neighbours = self.adjacency.neighbours(frontier)
            fresh = parent_after[neighbours] == 0
            if reached is not None:
                fresh &= reached[neighbours]
            nodes, first = np.unique(neighbours[fresh], return_index=True)
            parent_after[nodes] = sources[fresh][first] + 1
            root_weight[nodes] = root_weight[parent_after[nodes] - 1]
            frontier = nodes[np.argsort(-root_weight[nodes], kind="stable")]
        paths = {}
        for target in targets.tolist():
            path = [target] if parent_after[target] > 0 else []
            while path and parent_after[path[-1]] - 1 != path[-1]:
                path.append(int(parent_after[path[-1]] - 1))
            paths[target - self.entity_count] = path[::-1]
        return paths

    def describe_path(self, nodes: list[int]) -> tuple[str, ...]:
        """Readable steps of a path ending at the retrieved passage: node names, and between
        them how each edge joins them (a fact's relation, "similar to", "mentioned in")."""
        steps: list[str] = []
        for position, node in enumerate(nodes):
            if position > 0:
                steps.append(f"({self._edge_label(nodes[position - 1], node)})")
            if node < self.entity_count:
                steps.append(self.data.entity_names[node])
            elif position == len(nodes) - 1:
                steps.append("this passage")
            else:
                steps.append(f"[{self.data.passage_titles[node - self.entity_count] or 'passage'}]")
        return tuple(steps)

    def _edge_label(self, source: int, target: int) -> str:
        if source >= self.entity_count and target >= self.entity_count:
            return "linked note"
        if source >= self.entity_count:
            return "is about" if target in self.topics.get(source - self.entity_count, ()) else "mentions"
        if target >= self.entity_count:
            return "topic of" if source in self.topics.get(target - self.entity_count, ()) else "mentioned in"
        relation = self.relations.get((source, target))
        return "similar to" if relation is None else relation


def titles_naming(data: GraphData, index: EntityIndex, passages: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """For each of `passages` whose title names an entity of `index`, those entities."""
    named = {p: tuple(sorted(index.named_in_title(data.passage_titles[p]))) for p in passages}
    return {p: entities for p, entities in named.items() if entities}


def edges(
    data: GraphData,
    topics: dict[int, tuple[int, ...]],
    topic_weight: float,
    link_weight: float,
    facts: np.ndarray,
    mentions: np.ndarray,
    synonyms: np.ndarray,
    links: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, weights) of the graph's undirected edges: the rows `facts`, `mentions`,
    `synonyms` and `links` of data's edge arrays (a fact about itself left out), and the title
    edges of `topics`. Node indexes: entities first, then passages."""
    entities = len(data.entity_ids)
    topic_passages = np.fromiter((p for p, named in topics.items() for _ in named), dtype=np.int64)
    topic_entities = np.fromiter((e for named in topics.values() for e in named), dtype=np.int64)
    facts = facts[data.fact_subjects[facts] != data.fact_objects[facts]]
    rows = np.concatenate(
        [
            data.fact_subjects[facts],
            data.mention_passages[mentions] + entities,
            data.synonym_a[synonyms],
            topic_passages + entities,
            data.link_a[links] + entities,
        ]
    )
    cols = np.concatenate(
        [
            data.fact_objects[facts],
            data.mention_entities[mentions],
            data.synonym_b[synonyms],
            topic_entities,
            data.link_b[links] + entities,
        ]
    )
    weights = np.concatenate(
        [
            np.ones(len(facts)),
            np.ones(len(mentions)),
            data.synonym_weights[synonyms],
            np.full(len(topic_passages), topic_weight),
            link_weight * data.link_weights[links],
        ]
    )
    return rows, cols, weights
