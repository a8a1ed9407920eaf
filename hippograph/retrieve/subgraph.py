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

__all__ = ["query_subgraph", "subgraph_nodes"]


def subgraph_nodes(view: GraphView, ranked: list[Ranked], walk: Walk | None) -> list[int]:
    """The node indexes of a query's subgraph, in order: its seed entities, its returned passages
    and every node on their paths (passages the query did not return among them)."""
    nodes = {r.passage + view.entity_count for r in ranked}
    if walk is not None:
        nodes.update(walk.seed_nodes[walk.seed_nodes < view.entity_count].tolist())
        for path in walk.paths.values():
            nodes.update(path)
    return sorted(nodes)


def query_subgraph(
    view: GraphView, ranked: list[Ranked], walk: Walk | None, passages: dict[str, Passage]
) -> networkx.MultiDiGraph:
    """A `networkx.MultiDiGraph` of the query's seed entities, its returned passages and the nodes
    on the path from a seed to each passage, with every edge of the graph among them;
    `passages` holds every passage of `subgraph_nodes`.

    Nodes and edges carry the attributes of `hippograph.graph.export` and, for this query:
    `score` (the node's PageRank mass; a dense hit's similarity), `seed` (its restart weight,
    0 when it is not a seed) and, on returned passages, `rank` (1 = best). Without a walk
    (dense retrieval, or a graph with no entities) it holds the returned passages only.
    """
    nodes = subgraph_nodes(view, ranked, walk)
    graph = to_networkx(view, passages, np.array(nodes, dtype=np.int64))
    for node in nodes:
        attributes = graph.nodes[view.node_id(node)]
        attributes["score"] = float(walk.scores[node]) if walk is not None else 0.0
        attributes["seed"] = walk.seed(node) if walk is not None else 0.0
    for rank, hit in enumerate(ranked, 1):
        attributes = graph.nodes[view.node_id(hit.passage + view.entity_count)]
        attributes["rank"] = rank
        attributes["score"] = hit.score
    return graph
