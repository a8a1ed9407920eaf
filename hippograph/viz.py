"""Drawing a query's subgraph (or any small hippograph graph) with matplotlib, offline.

`draw` lays the graph out in columns: seed entities on the left, the passages a query
returned on the right, and between them every other node at its distance in hops from the
nearest seed; a graph without seeds gets a seeded spring layout. Entities are circles,
passages squares; colour says the kind (seed, entity, returned passage, other passage), size
the PageRank score; fact edges are labelled with their relation. The same graph gives the
same picture. Needs matplotlib (the [viz] extra).
"""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from typing import TYPE_CHECKING

from .errors import missing_extra

try:
    import matplotlib
    from matplotlib.figure import Figure
except ImportError as err:
    raise missing_extra("viz", err) from err

import networkx as nx

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["GraphFigure", "draw", "to_svg"]

COLOURS = {"seed": "#f28e2b", "entity": "#a0cbe8", "hit": "#59a14f", "passage": "#d7d7d7"}
LABEL_WIDTH = 22  # characters a label line holds
COLUMN_WIDTH = 3.2  # inches
ROW_HEIGHT = 0.75  # inches


def draw(graph: nx.MultiDiGraph, ax: Axes | None = None) -> Figure:
    """Draw `graph` (e.g. `Memory.subgraph(...)`) on `ax`, or on a new figure sized to it, and
    return the figure. In Jupyter a figure shows itself; elsewhere, `figure.savefig("g.svg")`."""
    positions, columns, rows = _layout(graph)
    if ax is None:
        figure = GraphFigure(figsize=(max(6.0, COLUMN_WIDTH * columns), max(4.0, ROW_HEIGHT * rows)))
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    simple = _merged(graph)
    nodes = list(graph.nodes)
    top = max((graph.nodes[n].get("score", 0.0) for n in nodes), default=0.0) or 1.0
    sizes = [250 + 1500 * (graph.nodes[n].get("score", 0.0) / top) ** 0.5 for n in nodes]
    colours = [COLOURS[_role(graph.nodes[n])] for n in nodes]
    for shape in ("o", "s"):
        chosen = [i for i, n in enumerate(nodes) if (graph.nodes[n].get("kind") == "passage") == (shape == "s")]
        nx.draw_networkx_nodes(
            simple,
            positions,
            nodelist=[nodes[i] for i in chosen],
            node_shape=shape,
            ax=ax,
            node_size=[sizes[i] for i in chosen],
            node_color=[colours[i] for i in chosen],
            edgecolors="#555555",
            linewidths=0.6,
        )
    # No arrowheads: the walk follows every edge both ways, and a mention (passage -> entity)
    # would point back against the left-to-right reading.
    nx.draw_networkx_edges(simple, positions, ax=ax, edge_color="#8c8c8c", width=0.8, arrows=False)
    labels = {n: textwrap.fill(str(graph.nodes[n].get("label", n)), LABEL_WIDTH) for n in nodes}
    nx.draw_networkx_labels(simple, positions, labels=labels, ax=ax, font_size=7)
    relations = {(u, v): textwrap.fill(label, LABEL_WIDTH) for u, v, label in simple.edges(data="label") if label}
    nx.draw_networkx_edge_labels(
        simple,
        positions,
        edge_labels=relations,
        ax=ax,
        font_size=6,
        rotate=False,
        font_color="#9c4a00",
        bbox={"alpha": 0.0},
    )
    ax.set_axis_off()
    ax.margins(0.12, 0.08)
    return figure


def to_svg(graph: nx.MultiDiGraph) -> str:
    """`draw(graph)` as an SVG document (text kept as text), for HTML pages and Jupyter."""
    return _svg(draw(graph))


class GraphFigure(Figure):
    """A matplotlib figure that Jupyter shows as SVG when it is a cell's value (a figure made
    without pyplot has no display of its own)."""

    def _repr_svg_(self) -> str:
        return _svg(self)


def _svg(figure: Figure) -> str:
    """The figure as SVG, the same bytes for the same figure (no date, fixed ids)."""
    with matplotlib.rc_context({"svg.hashsalt": "hippograph", "svg.fonttype": "none"}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # without the XML declaration, so that it can sit inside HTML


def _role(attributes: dict) -> str:
    if attributes.get("kind") == "passage":
        return "hit" if attributes.get("rank") else "passage"
    return "seed" if attributes.get("seed", 0.0) > 0 else "entity"


def _layout(graph: nx.MultiDiGraph) -> tuple[dict, int, int]:
    """Node positions, and how many columns and rows they take."""
    seeds = sorted(n for n, a in graph.nodes(data=True) if a.get("kind") == "entity" and a.get("seed", 0.0) > 0)
    if not seeds:
        positions = nx.spring_layout(nx.Graph(graph), seed=0) if len(graph) else {}
        side = max(2, int(len(graph) ** 0.5))
        return positions, side, side
    hops = nx.multi_source_dijkstra_path_length(graph.to_undirected(as_view=True), seeds, weight=lambda *_: 1)
    last = max(hops.values(), default=0) + 1
    column_of = {}
    for node, attributes in graph.nodes(data=True):
        column_of[node] = last if attributes.get("rank") else hops.get(node, last - 1)
    columns: dict[int, list] = defaultdict(list)
    for node, column in column_of.items():
        columns[column].append(node)
    positions, rows = {}, 1
    for column, members in columns.items():
        members.sort(key=lambda n: (graph.nodes[n].get("rank") or 0, -graph.nodes[n].get("score", 0.0), str(n)))
        rows = max(rows, len(members))
        for row, node in enumerate(members):
            positions[node] = (float(column), -(row - (len(members) - 1) / 2))
    return positions, len(columns), rows


def _merged(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """One edge per pair of nodes, labelled with the relations of the facts between them."""
    simple = nx.DiGraph()
    simple.add_nodes_from(graph.nodes)
    for u, v, attributes in graph.edges(data=True):
        if u == v:
            continue
        relations = simple.get_edge_data(u, v, {}).get("label", "")
        relation = attributes.get("relation", "") if attributes.get("kind") == "fact" else ""
        joined = "; ".join(part for part in (relations, relation) if part)
        simple.add_edge(u, v, label=joined)
    return simple
