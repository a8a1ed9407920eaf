"""Retrievers: the HippoRAG-style graph retriever and the dense baseline."""

from .dense import DenseRetriever
from .hipporag import GraphRetriever
from .ranked import Ranked

__all__ = ["DenseRetriever", "GraphRetriever", "Ranked"]
