"""The Extractor interface: passages in, entities and subject–relation–object facts out (spaCy,
an LLM, or imported triples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..types import Extraction, Passage


class Extractor(Protocol):
    """Finds entities and triples in passages, one Extraction per passage, in order."""

    @property
    def name(self) -> str:
        """Identifies the extractor and its version (recorded with what it extracted)."""
        ...

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]: ...
