"""Extractors: find entity phrases and subject–relation–object triples in passages."""

from .base import Extractor
from .normalize import normalize_entity
from .precomputed import PrecomputedExtractor
from .spacy_extractor import SpacyExtractor

__all__ = ["Extractor", "PrecomputedExtractor", "SpacyExtractor", "normalize_entity"]
