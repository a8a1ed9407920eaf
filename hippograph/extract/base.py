"""The Extractor interface: offline spaCy now; LLM OpenIE and imported triples slot in beside it."""

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

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        ...
