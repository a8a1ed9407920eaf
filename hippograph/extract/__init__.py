"""Extractors: find entity phrases and subject–relation–object triples in passages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Config
from ..errors import ConfigError
from .base import Extractor
from .llm import LLMExtractor
from .normalize import normalize_entity
from .precomputed import PrecomputedExtractor
from .spacy_extractor import SpacyExtractor

if TYPE_CHECKING:
    from ..llm import LLMClient

__all__ = [
    "EXTRACTORS",
    "Extractor",
    "LLMExtractor",
    "PrecomputedExtractor",
    "SpacyExtractor",
    "extractor_named",
    "normalize_entity",
]

EXTRACTORS = ("spacy", "llm")


def extractor_named(name: str | None, config: Config, llm: Callable[[], LLMClient]) -> Extractor:
    """The extractor a name gives: "spacy" (offline; also for None) or "llm" (OpenIE by `llm()`)."""
    if name not in (None, *EXTRACTORS):
        raise ConfigError(f"unknown extractor {name!r}; use one of {', '.join(EXTRACTORS)} or an Extractor")
    if name == "llm":
        return LLMExtractor(llm())
    return SpacyExtractor(config.spacy_model, processes=config.extract_processes)
