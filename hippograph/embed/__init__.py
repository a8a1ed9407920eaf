"""Embedders: turn texts into unit-length float32 vectors; the nearest stored vectors of new ones."""

from .base import Embedder
from .local import LocalEmbedder
from .neighbours import NeighbourIndex

__all__ = ["Embedder", "LocalEmbedder", "NeighbourIndex"]
