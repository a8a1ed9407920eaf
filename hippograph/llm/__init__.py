"""Talking to an OpenAI-compatible LLM endpoint: settings, client, output parsing, call cache."""

from .cache import CallCache
from .client import LLMClient, Usage
from .settings import LLMSettings

__all__ = ["CallCache", "LLMClient", "LLMSettings", "Usage"]
