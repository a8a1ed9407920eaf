"""The graph view of a store (nodes, weighted edges, transition matrix) and Personalized PageRank."""

from .ppr import personalized_pagerank
from .synonyms import SynonymIndex
from .view import GraphView

__all__ = ["GraphView", "SynonymIndex", "personalized_pagerank"]
