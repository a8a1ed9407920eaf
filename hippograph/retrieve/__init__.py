"""Retrievers: the graph retriever (seeds, Personalized PageRank; method "hippograph") and the dense baseline."""

from .dense import DenseRetriever
from .graph import GraphRetriever
from .ranked import Ranked

__all__ = ["DenseRetriever", "GraphRetriever", "Ranked"]
