"""hippograph: a graph-based knowledge memory for LLM applications."""

from importlib import resources
from pathlib import Path

from .config import Config
from .errors import (
    ConfigError,
    DocumentNotFound,
    HippographError,
    LLMCallFailed,
    LLMError,
    LLMNotConfigured,
    LLMOutputError,
    ModelError,
    QueryError,
    ReadOnlyStore,
    SourceError,
    StoreBusy,
    StoreError,
)
from .llm import LLMSettings
from .memory import Memory
from .types import (
    Answer,
    Change,
    Document,
    Explanation,
    Hit,
    Hits,
    IngestReport,
    Link,
    Note,
    Passage,
    SeedFact,
    Stats,
    StoredDocument,
    StoredFact,
    Topic,
)

__version__ = "0.1.0"


def sample_corpus() -> Path:
    """Path of the small sample corpus shipped with hippograph (fictional, with multi-hop chains)."""
    return Path(str(resources.files("hippograph").joinpath("data/sample_corpus.jsonl")))


__all__ = [
    "Answer",
    "Change",
    "Config",
    "ConfigError",
    "Document",
    "DocumentNotFound",
    "Explanation",
    "HippographError",
    "Hit",
    "Hits",
    "IngestReport",
    "LLMCallFailed",
    "LLMError",
    "LLMNotConfigured",
    "LLMOutputError",
    "LLMSettings",
    "Link",
    "Memory",
    "ModelError",
    "Note",
    "Passage",
    "QueryError",
    "ReadOnlyStore",
    "SeedFact",
    "SourceError",
    "Stats",
    "StoreBusy",
    "StoreError",
    "StoredDocument",
    "StoredFact",
    "Topic",
    "sample_corpus",
]
