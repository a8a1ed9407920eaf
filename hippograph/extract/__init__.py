"""Extractors: find entity phrases and subject–relation–object triples in passages."""

from .base import Extractor
from .llm import LLMExtractor
from .normalize import normalize_entity
from .precomputed import PrecomputedExtractor
from .spacy_extractor import SpacyExtractor

__all__ = ["Extractor", "LLMExtractor", "PrecomputedExtractor", "SpacyExtractor", "normalize_entity"]
