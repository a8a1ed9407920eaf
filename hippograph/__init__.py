"""hippograph: a graph-based knowledge memory for LLM applications."""

from importlib import resources
from pathlib import Path

from .config import Config
from .errors import (
    ConfigError, DocumentNotFound, HippographError, LLMCallFailed, LLMError, LLMNotConfigured, LLMOutputError,
    ModelError, QueryError, ReadOnlyStore, SourceError, StoreBusy, StoreError,
)
from .llm import LLMSettings
from .memory import Memory
from .types import Answer, Document, Explanation, Hit, Hits, IngestReport, Passage, SeedFact, Stats, StoredDocument

__version__ = "0.1.0"


def sample_corpus() -> Path:
    """Path of the small sample corpus shipped with hippograph (fictional, with multi-hop chains)."""
    return Path(str(resources.files("hippograph").joinpath("data/sample_corpus.jsonl")))


__all__ = [
    "Answer", "LLMCallFailed", "LLMError", "LLMNotConfigured", "LLMOutputError", "LLMSettings",
    "Config", "ConfigError", "Document", "DocumentNotFound", "Explanation", "HippographError", "Hit", "Hits",
    "IngestReport", "Memory", "ModelError", "Passage", "QueryError", "ReadOnlyStore", "SeedFact", "SourceError",
    "Stats", "StoreBusy", "StoreError", "StoredDocument", "sample_corpus",
]
