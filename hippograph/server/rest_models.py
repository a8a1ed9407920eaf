"""The request bodies `hippograph serve` accepts: each field, what it means and its limits.

Anything else (a wrong type, an unknown field, a text over its limit) is refused with 422
before the store is touched.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..memory import MAX_NOTE_CHARACTERS

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DOCUMENT_CHARACTERS",
    "MAX_DOCUMENTS",
    "MAX_ID_CHARACTERS",
    "MAX_METADATA_DEPTH",
    "MAX_QUERY_CHARACTERS",
    "MAX_TIME_CHARACTERS",
    "NewDocument",
    "NewMemory",
    "NoteChange",
    "depth",
]

MAX_DOCUMENT_CHARACTERS = 1_000_000  # a longer text is split into several documents by its owner
MAX_DOCUMENTS = 1_000  # per request: an ingest holds the write lock for its whole batch
MAX_ID_CHARACTERS = 512
MAX_TITLE_CHARACTERS = 1_000
MAX_QUERY_CHARACTERS = 10_000
MAX_TIME_CHARACTERS = 64
MAX_BODY_BYTES = 16 * 1024 * 1024  # refused (413) before it is read
# Objects and lists in metadata, nested: a reply is serialized by pydantic, which stops at about
# 250 levels, so deeper metadata would be stored and then never given back (every read a 500).
MAX_METADATA_DEPTH = 32

METADATA = f"a JSON object kept with it and given back with it (nested at most {MAX_METADATA_DEPTH} deep)"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable(self) -> _Body:
        nesting = depth(getattr(self, "metadata", None))  # first: json.dumps of a deep one recurses too far
        if nesting > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata nests objects and lists {nesting} deep; at most {MAX_METADATA_DEPTH}")
        # JSON may carry NaN or a lone surrogate ("\ud800"), which the store cannot keep and a
        # reply cannot carry: refused here, so that such a body never gets as far as a write.
        try:
            json.dumps(self.model_dump(), allow_nan=False, ensure_ascii=False).encode("utf-8")
        except ValueError as err:  # UnicodeEncodeError is one
            raise ValueError(
                f"the body holds a value that cannot be stored: a number that is not finite, or text "
                f"that is not Unicode ({err})"
            ) from None
        return self


def depth(value: Any) -> int:
    """How deeply objects and lists nest in `value` (a JSON value): 0 for a string or number, 1
    for ``{"a": 1}``; counted without recursion, so any depth is measured."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


class NewMemory(_Body):
    """One memory (a chat turn, an observation, a fact) to store as a note."""

    text: str = Field(
        min_length=1,
        max_length=MAX_NOTE_CHARACTERS,
        description="what to remember; a longer text is a document: POST it to .../documents",
    )
    timestamp: str | None = Field(
        None,
        max_length=MAX_TIME_CHARACTERS,
        examples=["2024-05-01T13:56:00+02:00"],
        description="when it was said, ISO 8601 (a time without a zone is UTC); default: now",
    )
    metadata: dict[str, Any] | None = Field(None, description=METADATA)
    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARACTERS,
        description="the note's document id, unique in the namespace (default: a hash of "
        "text, time and metadata); the same id with other content is refused",
    )


class NoteChange(_Body):
    """A note's new text and/or metadata; what is left out stays as it is."""

    text: str | None = Field(None, min_length=1, max_length=MAX_NOTE_CHARACTERS, description="the new text")
    metadata: dict[str, Any] | None = Field(None, description="the new metadata (replaces the old): " + METADATA)


class NewDocument(_Body):
    """One document to ingest: split into passages, extracted, embedded and linked."""

    text: str = Field(min_length=1, max_length=MAX_DOCUMENT_CHARACTERS, description="the document's text")
    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARACTERS,
        description="unique in the namespace (default: a hash of title and text); "
        "ingesting an id again replaces that document when its content changed",
    )
    title: str = Field("", max_length=MAX_TITLE_CHARACTERS, description="embedded with each passage")
    metadata: dict[str, Any] | None = Field(None, description=METADATA)
