"""A namespace's graph as networkx and igraph objects, and as GraphML or GEXF files.

Nodes are keyed by their store ids and carry:

========= ========= ==============================================================
attribute node kind meaning
========= ========= ==============================================================
kind      both      "entity" or "passage"
name      entity    the entity's normalised phrase
passages  entity    how many passages mention it (its specificity is 1 / this)
title     passage   the passage's title ("" when none)
text      passage   the passage text
document  passage   the id of the document it belongs to
time      passage   the note's time, UTC ISO 8601 ("" when unknown)
label     both      a short display name: the entity's name, the passage's title or first words
========= ========= ==============================================================

Edges are directed as they were written (the retriever walks them both ways) and carry `kind`
and `weight` (their weight in the PageRank graph):

- "fact": subject -> object, with `relation`, `valid_from` and `valid_to` ("" when open);
- "mention": passage -> an entity it mentions;
- "topic": passage -> the entity its title names;
- "synonym": entity -> entity of a similar name (weight: cosine similarity);
- "link": note -> a related note, with `link_kind` ("similar", "llm").

`to_networkx` gives a `networkx.MultiDiGraph` (two facts may join the same pair of entities);
`to_igraph` converts it with igraph's own converter (the node id in the vertex attribute `id`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SourceError
from ..types import Passage
from .view import GraphView

if TYPE_CHECKING:
    import igraph
    import networkx

__all__ = ["EDGE_KINDS", "to_networkx", "to_igraph", "write_graph"]

EDGE_KINDS = ("fact", "mention", "topic", "synonym", "link")
_LABEL_WORDS = 6
# Characters XML 1.0 cannot hold (GraphML and GEXF are XML): written as U+FFFD instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_networkx(
    view: GraphView, passages: dict[str, Passage], nodes: np.ndarray | None = None
) -> networkx.MultiDiGraph:
    """The graph of `view` (only the node indexes `nodes`, when given, and the edges among them;
    else its live nodes),
    its passages' texts and documents taken from `passages` (passage id -> Passage)."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    data = view.data
    keep = np.concatenate([data.entity_alive, data.passage_alive]) if nodes is None else _mask(view, nodes)
    data = view.data
    for entity in np.flatnonzero(keep[: view.entity_count]).tolist():
        name = data.entity_names[entity]
        graph.add_node(
            data.entity_ids[entity],
            kind="entity",
            name=name,
            label=name,
            passages=int(view.entity_passage_counts[entity]),
        )
    for index in np.flatnonzero(keep[view.entity_count :]).tolist():
        passage = passages[data.passage_ids[index]]
        graph.add_node(
            passage.id,
            kind="passage",
            title=passage.title,
            text=passage.text,
            document=passage.document_id,
            time=passage.time or "",
            label=_passage_label(passage),
        )
    for source, target, attributes in _edges(view, keep):
        graph.add_edge(view.node_id(source), view.node_id(target), **attributes)
    return graph


def to_igraph(graph: networkx.MultiDiGraph) -> igraph.Graph:
    """The same graph in igraph (directed, with parallel edges), every attribute kept; the node
    ids in the vertex attribute `id`."""
    import igraph as ig

    return ig.Graph.from_networkx(graph, vertex_attr_hashable="id")


def write_graph(graph: networkx.MultiDiGraph, path: str | Path) -> Path:
    """Write `graph` as GEXF when `path` ends in .gexf, else as GraphML (Gephi, Cytoscape and
    networkx read both). Characters XML cannot hold become U+FFFD in the file only."""
    import networkx as nx

    path = Path(path)
    clean = _xml_safe(graph)
    try:
        if path.suffix.lower() == ".gexf":
            nx.write_gexf(clean, path)
        else:
            nx.write_graphml(clean, path)
    except OSError as err:
        raise SourceError(f"cannot write {path}: {err}") from None
    return path


def _edges(view: GraphView, keep: np.ndarray) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Every edge of the view between kept nodes, as (source node, target node, attributes).
    The kept edges are picked by array masks first: a query's subgraph keeps a handful of a
    large graph's edges, and a Python loop over all of them would cost the graph's size."""
    data, entities = view.data, view.entity_count
    subjects, objects = data.fact_subjects, data.fact_objects
    # the view leaves out a fact about itself
    for fact in np.flatnonzero((subjects != objects) & keep[subjects] & keep[objects]).tolist():
        yield (
            int(subjects[fact]),
            int(objects[fact]),
            {
                "kind": "fact",
                "weight": 1.0,
                "relation": data.fact_relations[fact],
                "valid_from": str(data.fact_valid_from[fact]),
                "valid_to": str(data.fact_valid_to[fact]),
            },
        )
    passages, mentioned = data.mention_passages + entities, data.mention_entities
    for mention in np.flatnonzero(keep[passages] & keep[mentioned]).tolist():
        yield int(passages[mention]), int(mentioned[mention]), {"kind": "mention", "weight": 1.0}
    for passage, entity in sorted((p, e) for p, named in view.topics.items() for e in named):
        if keep[passage + entities] and keep[entity]:
            yield passage + entities, entity, {"kind": "topic", "weight": view.topic_weight}
    for synonym in np.flatnonzero(keep[data.synonym_a] & keep[data.synonym_b]).tolist():
        yield (
            int(data.synonym_a[synonym]),
            int(data.synonym_b[synonym]),
            {"kind": "synonym", "weight": float(data.synonym_weights[synonym])},
        )
    for link in np.flatnonzero(keep[data.link_a + entities] & keep[data.link_b + entities]).tolist():
        yield (
            int(data.link_a[link]) + entities,
            int(data.link_b[link]) + entities,
            {
                "kind": "link",
                "weight": view.link_weight * float(data.link_weights[link]),
                "link_kind": data.link_kinds[link],
            },
        )


def _mask(view: GraphView, nodes: np.ndarray) -> np.ndarray:
    keep = np.zeros(view.entity_count + view.passage_count, dtype=bool)
    keep[np.asarray(nodes, dtype=np.int64)] = True
    return keep


def _passage_label(passage: Passage) -> str:
    if passage.title:
        return passage.title
    words = passage.text.split()
    return " ".join(words[:_LABEL_WORDS]) + (" …" if len(words) > _LABEL_WORDS else "")


def _xml_safe(graph: networkx.MultiDiGraph) -> networkx.MultiDiGraph:
    """A copy whose string attributes hold only characters XML allows."""
    clean = graph.copy()
    for _, attributes in clean.nodes(data=True):
        _clean_strings(attributes)
    for _, _, attributes in clean.edges(data=True):
        _clean_strings(attributes)
    return clean


def _clean_strings(attributes: dict[str, Any]) -> None:
    for key, value in attributes.items():
        if isinstance(value, str) and _NOT_XML.search(value):
            attributes[key] = _NOT_XML.sub("\ufffd", value)
