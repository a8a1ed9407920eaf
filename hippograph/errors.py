"""The exceptions hippograph raises: one base class, a few precise subclasses."""


class HippographError(Exception):
    """Base class of every error hippograph raises on purpose."""


class ConfigError(HippographError, ValueError):
    """A setting is out of its range."""


class SourceError(HippographError):
    """An input (file, record, string) cannot be read; the message names where."""


class DocumentNotFound(HippographError, KeyError):
    """An id names no stored document or passage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StoreError(HippographError):
    """The store cannot be opened or does not match this configuration."""


class StoreBusy(StoreError):
    """Another writer holds the store for longer than a write waits; nothing was written: try again."""


class ReadOnlyStore(StoreError):
    """A write was asked of a memory opened read-only (or whose folder cannot be written); nothing was written."""


class ModelError(HippographError):
    """A model (spaCy pipeline, embedding model) cannot be loaded."""


class QueryError(HippographError):
    """A query cannot be run as given (empty text, bad k, unknown method)."""


class LLMError(HippographError):
    """An LLM endpoint cannot be used: unreachable, refusing the credentials or the model."""


class LLMNotConfigured(LLMError):
    """An LLM feature was asked for but no endpoint or model is set."""


class LLMCallFailed(LLMError):
    """One model call kept failing (server errors, timeouts, unreadable output); the work goes on
    without its result and records the failure."""


class LLMOutputError(LLMCallFailed):
    """A model's output could not be read as the JSON asked for."""


def missing_extra(extra: str, err: ImportError) -> ImportError:
    """The ImportError of a door (an integration, a server) whose optional dependencies are not
    installed: it names the extra that installs them."""
    return ImportError(f"this part of hippograph needs the [{extra}] extra: pip install 'hippograph[{extra}]' ({err})")
