"""The graph behind a query's hits: seed entities, returned passages and the paths between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..graph.export import to_networkx
from ..graph.view import GraphView
from ..types import Passage
from .ranked import Ranked, Walk

if TYPE_CHECKING:
    import networkx

__all__ = ["query_subgraph"]


def query_subgraph(view: GraphView, ranked: list[Ranked], walk: Walk | None,
                   passages: dict[str, Passage]) -> "networkx.MultiDiGraph":
    """A `networkx.MultiDiGraph` of the query's seed entities, its returned passages and the nodes
    on the path from a seed to each passage, with every edge of the graph among them.

    Nodes and edges carry the attributes of `hippograph.graph.export` and, for this query:
    `score` (the node's PageRank mass; a dense hit's similarity), `seed` (its restart weight,
    0 when it is not a seed) and, on returned passages, `rank` (1 = best). Without a walk
    (dense retrieval, or a graph with no entities) it holds the returned passages only.
    """
    hits = np.array([r.passage for r in ranked], dtype=np.int64) + view.entity_count
    nodes = set(hits.tolist())
    if walk is not None:
        nodes.update(np.flatnonzero(walk.seeds[: view.entity_count] > 0).tolist())
        for path in walk.paths.values():
            nodes.update(path)
    graph = to_networkx(view, passages, np.array(sorted(nodes), dtype=np.int64))
    ids = {node: view.node_id(node) for node in nodes}
    for node in nodes:
        attributes = graph.nodes[ids[node]]
        attributes["score"] = float(walk.scores[node]) if walk is not None else 0.0
        attributes["seed"] = float(walk.seeds[node]) if walk is not None else 0.0
    for rank, hit in enumerate(ranked, 1):
        attributes = graph.nodes[ids[hit.passage + view.entity_count]]
        attributes["rank"] = rank
        attributes["score"] = hit.score
    return graph

