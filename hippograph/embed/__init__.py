"""Embedders: turn texts into unit-length float32 vectors."""

from .base import Embedder
from .local import LocalEmbedder

__all__ = ["Embedder", "LocalEmbedder"]
