"""Extractors: find entity phrases and subject–relation–object triples in passages."""

from .base import Extractor
from .normalize import normalize_entity
from .spacy_extractor import SpacyExtractor

__all__ = ["Extractor", "SpacyExtractor", "normalize_entity"]
