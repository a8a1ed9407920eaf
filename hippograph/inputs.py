"""Checks of the values a caller hands to `Memory`: a namespace and a note's metadata. Each names
what is wrong in the error class the calling method raises."""

from __future__ import annotations

import json
from typing import Any

from .errors import SourceError
from .types import DEFAULT_NAMESPACE

__all__ = ["checked_metadata", "checked_namespace"]


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
