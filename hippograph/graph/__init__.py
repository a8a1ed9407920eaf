"""The graph view of a store (nodes, weighted edges, name lookup) and Personalized PageRank."""

from .ppr import PageRank
from .view import GraphView

__all__ = ["GraphView", "PageRank"]
