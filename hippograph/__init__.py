"""hippograph: a graph-based knowledge memory for LLM applications."""

from importlib import resources
from pathlib import Path

from .config import Config
from .errors import ConfigError, DocumentNotFound, HippographError, ModelError, QueryError, SourceError, StoreError
from .memory import Memory
from .types import Document, Explanation, Hit, Hits, IngestReport, Passage, SeedFact, Stats, StoredDocument

__version__ = "0.1.0"


def sample_corpus() -> Path:
    """Path of the small sample corpus shipped with hippograph (fictional, with multi-hop chains)."""
    return Path(str(resources.files("hippograph").joinpath("data/sample_corpus.jsonl")))


__all__ = [
    "Config", "ConfigError", "Document", "DocumentNotFound", "Explanation", "HippographError", "Hit", "Hits",
    "IngestReport", "Memory", "ModelError", "Passage", "QueryError", "SeedFact", "SourceError",
    "Stats", "StoreError", "StoredDocument", "sample_corpus",
]
