"""The Embedder interface every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Maps texts to unit-normalised float32 vectors, one row per text, in input order."""

    @property
    def name(self) -> str:
        """Identifies the model; a store remembers it so vectors never mix models."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), dtype float32, rows of length 1."""
        ...
