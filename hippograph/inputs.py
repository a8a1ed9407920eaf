"""Checks of the values a caller hands to `Memory`: a namespace, a note's text, time, id and
metadata. Each names what is wrong in the error class the calling method raises."""

from __future__ import annotations

import json
from typing import Any

from .errors import SourceError
from .ids import content_hash
from .timestamps import now, to_utc
from .types import DEFAULT_NAMESPACE, Document

__all__ = ["MAX_NOTE_CHARACTERS", "checked_metadata", "checked_namespace", "checked_text", "note_document"]

MAX_NOTE_CHARACTERS = 100_000  # a longer text is a document: ingest() splits it into passages


def checked_namespace(value: str | None, error: type[Exception]) -> str:
    """A namespace as given, the default one for None; `error` for anything else but a non-empty string.

    >>> checked_namespace(None, ValueError)
    'default'
    """
    if value is None:
        return DEFAULT_NAMESPACE
    if not isinstance(value, str) or not value.strip():
        raise error(f"a namespace is a non-empty string, not {value!r}")
    return value


def checked_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Metadata as stored: a JSON object (SourceError otherwise).

    >>> checked_metadata({"speaker": "Ida", "turn": 3})
    {'speaker': 'Ida', 'turn': 3}
    """
    if metadata is None:
        return {}
    try:
        if not isinstance(metadata, dict):
            raise TypeError(f"it is a {type(metadata).__name__}")
        return json.loads(json.dumps(metadata))
    except (TypeError, ValueError) as err:
        raise SourceError(f"metadata must be a JSON object (a dict of strings, numbers, lists): {err}") from None


def checked_text(text: object) -> str:
    """A note's text: a string with something in it (SourceError otherwise)."""
    if not isinstance(text, str) or not text.strip():
        raise SourceError("a note's text is empty")
    return text


def note_document(text: object, namespace: str, timestamp, metadata: dict[str, Any] | None, id: object) -> Document:
    """The document a new note is: its text checked, its time in UTC (now by default), its id by
    default a hash of namespace, text, time and metadata.

    >>> note_document("Mira Holt lives in Paris.", "default", "2024-05-01", None, "paris").timestamp
    '2024-05-01T00:00:00+00:00'
    """
    text = checked_text(text)
    if len(text) > MAX_NOTE_CHARACTERS:
        raise SourceError(
            f"a note holds at most {MAX_NOTE_CHARACTERS} characters, this text has {len(text)}; "
            "ingest() it as a document, which splits it into passages"
        )
    time = now() if timestamp is None else to_utc(timestamp, "timestamp", SourceError)
    metadata = checked_metadata(metadata)
    if id is None:
        id = content_hash(namespace, text, time, json.dumps(metadata, sort_keys=True))
    elif not isinstance(id, str) or not id.strip():
        raise SourceError(f"a note id is a non-empty string, not {id!r}")
    return Document(text, id=id, metadata=metadata, namespace=namespace, timestamp=time)
