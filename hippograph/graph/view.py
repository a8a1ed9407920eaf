"""The graph view: nodes and weighted edges of one namespace, ready for PageRank and path finding.

Node order: entities first (sorted by id), then passages (sorted by id). Edge
weights: 1 per fact between two entities, 1 per passage–entity mention, the
cosine similarity for synonymy edges, `topic_weight` between a passage and
the entity its title names (the passage is *about* that entity, so a walk that
reaches the entity should mostly go on to it), and `link_weight` times the
link's own weight between linked notes. Built once per store version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..store.records import GraphData
from .linking import EntityIndex
from .ppr import PageRank


@dataclass
class GraphView:
    data: GraphData
    adjacency: sp.csr_matrix
    pagerank: PageRank
    entity_passage_counts: np.ndarray  # passages mentioning each entity
    relations: dict[tuple[int, int], str]  # (entity, entity) -> relation of a fact joining them
    entity_index: EntityIndex
    topics: set[tuple[int, int]]  # (passage, entity) pairs joined by a title
    topic_weight: float = 0.0  # the weight of a title edge
    link_weight: float = 1.0  # a note link's weight is this times the link's own

    @property
    def entity_count(self) -> int:
        return len(self.data.entity_ids)

    @property
    def passage_count(self) -> int:
        return len(self.data.passage_ids)

    def node_id(self, node: int) -> str:
        """The store id of a node index (an entity's, or a passage's)."""
        if node < self.entity_count:
            return self.data.entity_ids[node]
        return self.data.passage_ids[node - self.entity_count]

    @classmethod
    def build(cls, data: GraphData, topic_weight: float = 0.0, link_weight: float = 1.0) -> GraphView:
        entities, passages = len(data.entity_ids), len(data.passage_ids)
        size = entities + passages
        entity_index = EntityIndex(data.entity_names)
        topic_passages, topic_entities = _topic_pairs(data.passage_titles, entity_index) if topic_weight else ([], [])
        not_loop = data.fact_subjects != data.fact_objects
        rows = np.concatenate(
            [
                data.fact_subjects[not_loop],
                data.mention_passages + entities,
                data.synonym_a,
                np.asarray(topic_passages, dtype=np.int64) + entities,
                data.link_a + entities,
            ]
        )
        cols = np.concatenate(
            [
                data.fact_objects[not_loop],
                data.mention_entities,
                data.synonym_b,
                np.asarray(topic_entities, dtype=np.int64),
                data.link_b + entities,
            ]
        )
        weights = np.concatenate(
            [
                np.ones(int(not_loop.sum())),
                np.ones(len(data.mention_passages)),
                data.synonym_weights,
                np.full(len(topic_passages), topic_weight),
                link_weight * data.link_weights,
            ]
        )
        upper = sp.coo_matrix((weights, (rows, cols)), shape=(size, size))
        adjacency = (upper + upper.T).tocsr()
        adjacency.sum_duplicates()
        counts = np.bincount(data.mention_entities, minlength=entities).astype(np.float64)
        pairs = list(zip(data.fact_subjects.tolist(), data.fact_objects.tolist(), data.fact_relations))
        relations: dict[tuple[int, int], str] = {}
        for s, o, relation in pairs:  # a fact's own direction first, inverses only fill gaps
            relations.setdefault((s, o), relation)
        for s, o, relation in pairs:
            relations.setdefault((o, s), f"{relation} (inverse)")
        topics = set(zip(topic_passages, topic_entities))
        return cls(
            data, adjacency, PageRank(adjacency), counts, relations, entity_index, topics, topic_weight, link_weight
        )

    def paths_from_seeds(
        self, passages: list[int], seed_weights: np.ndarray, max_hops: int = 4
    ) -> dict[int, list[int]]:
        """For each passage, the nodes of a shortest path (fewest edges) from a seed entity to it,
        the heaviest seed winning among equally near ones; [] when no seed is within `max_hops`.

        One breadth-first search from all seeds at once, level by level, each level's nodes
        ordered by the weight of the seed they were reached from, so the first parent found
        comes from the heaviest seed. It stops when every passage is reached.
        """
        targets = np.asarray(passages, dtype=np.int64) + self.entity_count
        parent = np.full(self.adjacency.shape[0], -1)
        root_weight = np.zeros(self.adjacency.shape[0])
        frontier = np.flatnonzero(seed_weights > 0)
        frontier = frontier[np.argsort(-seed_weights[frontier], kind="stable")]
        parent[frontier] = frontier
        root_weight[frontier] = seed_weights[frontier]
        for _ in range(max_hops):
            if not len(frontier) or (parent[targets] >= 0).all():
                break
            sources, neighbours = self._neighbours(frontier)
            fresh = parent[neighbours] < 0
            nodes, first = np.unique(neighbours[fresh], return_index=True)
            parent[nodes] = sources[fresh][first]
            root_weight[nodes] = root_weight[parent[nodes]]
            frontier = nodes[np.argsort(-root_weight[nodes], kind="stable")]
        paths = {}
        for target in targets.tolist():
            path = [target] if parent[target] >= 0 else []
            while path and parent[path[-1]] != path[-1]:
                path.append(int(parent[path[-1]]))
            paths[target - self.entity_count] = path[::-1]
        return paths

    def _neighbours(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every edge leaving `nodes` as (source, target) arrays, read straight from the CSR
        arrays (scipy's row slicing costs far more on the small frontiers of a query)."""
        indptr = self.adjacency.indptr
        starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.repeat(nodes, counts), self.adjacency.indices[np.repeat(starts, counts) + offsets]

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
            return "is about" if (source - self.entity_count, target) in self.topics else "mentions"
        if target >= self.entity_count:
            return "topic of" if (target - self.entity_count, source) in self.topics else "mentioned in"
        return self.relations.get((source, target), "similar to")


def _topic_pairs(titles: list[str], index: EntityIndex) -> tuple[list[int], list[int]]:
    """(passage, entity) pairs where the passage's title names the entity."""
    pairs = [
        (passage, entity)
        for passage, title in enumerate(titles)
        if title
        for entity in sorted(index.named_in_title(title))
    ]
    return [p for p, _ in pairs], [e for _, e in pairs]
