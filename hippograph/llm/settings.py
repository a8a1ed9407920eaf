"""Where the LLM is and how to call it: one settings object, from arguments or the environment."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import check_number, check_whole
from ..errors import LLMNotConfigured

ENVIRONMENT = {
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "model": "HIPPOGRAPH_LLM_MODEL",
    "cache_path": "HIPPOGRAPH_LLM_CACHE",
}


def default_cache_path() -> Path:
    """$XDG_CACHE_HOME/hippograph/llm-calls.sqlite, else ~/.cache/hippograph/llm-calls.sqlite."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "hippograph" / "llm-calls.sqlite"


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp, LM Studio).

    base_url: the server's ``/v1`` URL; None means OpenAI itself (then an api_key is needed).
    api_key: sent as a bearer token; local servers usually accept any value.
    model: the model name the server knows.
    temperature: 0 keeps extraction and answers repeatable (and cacheable).
    timeout: seconds to wait for one response.
    max_concurrency: calls in flight at once during ingest.
    max_retries: further attempts after a rate limit, server error, timeout or unparseable
        output; waits grow as ``backoff * 2**attempt`` seconds (a server's Retry-After wins,
        up to ``max_backoff``).
    cache_path: the SQLite file caching model calls, shared by every store (calls are keyed by
        model, prompt version and input, so sharing is safe); None: `default_cache_path()`.
    use_cache: False makes every call afresh and stores nothing.
    """

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    temperature: float = 0.0
    timeout: float = 120.0
    max_concurrency: int = 4
    max_retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 60.0
    cache_path: str | Path | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        for name in ("backoff", "max_backoff", "temperature"):
            check_number(self, name, 0, math.inf)
        check_number(self, "timeout", 0, math.inf, open_low=True)
        check_whole(self, "max_concurrency", 1)
        check_whole(self, "max_retries", 0)

    @classmethod
    def from_env(cls, **overrides) -> LLMSettings:
        """Settings from OPENAI_BASE_URL, OPENAI_API_KEY and HIPPOGRAPH_LLM_MODEL; an override
        that is not None wins over its variable."""
        values = {field: os.environ.get(variable) or None for field, variable in ENVIRONMENT.items()}
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def configured(self) -> bool:
        """Whether an endpoint is set: a base URL, or an API key for OpenAI itself."""
        return bool(self.base_url or self.api_key)

    def require(self) -> LLMSettings:
        """These settings, or LLMNotConfigured naming what is missing."""
        if not self.configured:
            raise LLMNotConfigured(
                "no LLM endpoint is configured: set OPENAI_BASE_URL (and OPENAI_API_KEY if the server needs "
                "one) or pass --llm-url; hippograph never calls a model unless told where it is"
            )
        if not self.model:
            raise LLMNotConfigured("no LLM model is named: set HIPPOGRAPH_LLM_MODEL or pass --llm-model")
        return self

    def describe(self) -> str:
        """Endpoint and model for logs and reports; never the API key."""
        return f"{self.model} at {self.base_url or 'the OpenAI API'}"

    def cache_file(self) -> Path | None:
        """Where model calls are cached, or None when caching is off."""
        return (Path(self.cache_path) if self.cache_path else default_cache_path()) if self.use_cache else None
