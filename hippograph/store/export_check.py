"""Checking an export's records before any is written: each value of the right type, vectors of
one length with finite values, every record a reference names already read (in its namespace),
and no record twice. The first problem is a SourceError naming its line.

A store writes an import in one transaction, so a problem found on line 900 still leaves the
store as empty as it was; without these checks a file that does not fit together imported "fine"
and then broke every query (a missing vector, an entity in another namespace, a NaN vector).
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import SourceError
from .transfer import Record, decode_vector

__all__ = ["checked_records"]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _id(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _time_mentions(value: Any) -> bool:
    fields = {"text", "start", "end", "words"}
    return isinstance(value, list) and all(
        isinstance(item, dict) and set(item) == fields and all(isinstance(item[f], str) for f in fields)
        for item in value
    )


def _anything(value: Any) -> bool:
    return True


# record type -> field -> (check, what the field must be)
_FIELDS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "embedding": {"key": (_id, "an id"), "vector": (_text, "base64 text")},
    "document": {
        "namespace": (_id, "an id"),
        "id": (_id, "an id"),
        "title": (_text, "text"),
        "source": (_text, "text"),
        "metadata": (lambda v: isinstance(v, dict), "a JSON object"),
        "content_hash": (_id, "an id"),
        "created_at": (_id, "a time"),
    },
    "passage": {
        "id": (_id, "an id"),
        "namespace": (_id, "an id"),
        "document_id": (_id, "an id"),
        "position": (_count, "a whole number"),
        "title": (_text, "text"),
        "text": (_text, "text"),
        "embedding_key": (_id, "an id"),
        "extractor": (_text, "text"),
        "created_at": (_id, "a time"),
        "extraction_error": (_optional(_text), "text or null"),
        "keywords": (_strings, "a list of texts"),
        "tags": (_strings, "a list of texts"),
        "context": (_text, "text"),
        "updated_at": (_optional(_id), "a time or null"),
        "times": (_time_mentions, "a list of {text, start, end, words} objects"),
    },
    "entity": {
        "id": (_id, "an id"),
        "namespace": (_id, "an id"),
        "key": (_id, "text"),
        "name": (_id, "text"),
        "embedding_key": (_optional(_id), "an id or null"),
    },
    "mention": {"passage_id": (_id, "an id"), "entity_id": (_id, "an id")},
    "fact": {
        "id": (_id, "an id"),
        "namespace": (_id, "an id"),
        "subject_id": (_id, "an id"),
        "relation": (_text, "text"),
        "object_id": (_id, "an id"),
        "embedding_key": (_id, "an id"),
        "relation_group": (_optional(_text), "text or null"),
        "valid_from": (_optional(_id), "a time or null"),
        "valid_to": (_optional(_id), "a time or null"),
    },
    "fact_source": {"fact_id": (_id, "an id"), "passage_id": (_id, "an id")},
    "synonym": {"a": (_id, "an id"), "b": (_id, "an id"), "weight": (_number, "a finite number")},
    "link": {
        "a": (_id, "an id"),
        "b": (_id, "an id"),
        "kind": (_id, "text"),
        "reason": (_text, "text"),
        "weight": (_number, "a finite number"),
        "created_at": (_id, "a time"),
    },
    "note_change": {
        "id": (_count, "a whole number"),
        "passage_id": (_id, "an id"),
        "field": (_id, "text"),
        "old_value": (_anything, "JSON"),
        "new_value": (_anything, "JSON"),
        "changed_by": (_id, "text"),
        "source_note": (_optional(_id), "an id or null"),
        "changed_at": (_id, "a time"),
    },
}


class _Problem(Exception):
    """What is wrong with one record (its line is added where it is caught)."""


class _Seen:
    """What the records read so far hold: the keys a later record may name, with namespaces."""

    def __init__(self) -> None:
        self.embeddings: set[str] = set()
        self.dimension: int | None = None
        self.documents: set[tuple[str, str]] = set()
        self.namespaces: dict[str, dict[str, str]] = {"passage": {}, "entity": {}, "fact": {}}  # kind -> id -> ns
        self.pairs: dict[str, set] = {
            "mention": set(),
            "fact_source": set(),
            "synonym": set(),
            "link": set(),
            "note_change": set(),
        }

    def namespace_of(self, kind: str, key: str) -> str:
        if key not in self.namespaces[kind]:
            raise _Problem(f"names {kind} {key!r}, which no earlier line holds")
        return self.namespaces[kind][key]

    def embedding(self, key: str | None) -> None:
        if key is not None and key not in self.embeddings:
            raise _Problem(f"names embedding {key!r}, which no earlier line holds")

    def new(self, kind: str, key: Any) -> None:
        """Refuse a record whose key an earlier line already had."""
        known = self.namespaces.get(kind) if kind in self.namespaces else self.pairs.get(kind)
        if key in known:
            raise _Problem(f"repeats the {kind} {key!r} of an earlier line")


def checked_records(records: Iterator[tuple[int, str, dict[str, Any]]], source: str) -> Iterator[Record]:
    """The records of `records` (line number, type, values), each checked before it is passed on."""
    seen = _Seen()
    for number, kind, values in records:
        try:
            _check_types(kind, values)
            _CHECKS[kind](seen, values)
        except _Problem as problem:
            raise SourceError(f"{source}, line {number}: this {kind} record {problem}; nothing was imported") from None
        yield kind, values


def _check_types(kind: str, values: dict[str, Any]) -> None:
    for name, (check, wanted) in _FIELDS[kind].items():
        if not check(values[name]):
            raise _Problem(f"has {name} {_shown(values[name])}, not {wanted}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _embedding(seen: _Seen, values: dict[str, Any]) -> None:
    if values["key"] in seen.embeddings:
        raise _Problem(f"repeats the embedding {values['key']!r} of an earlier line")
    try:
        vector = decode_vector(values["vector"])
    except (binascii.Error, ValueError) as err:
        raise _Problem(f"has a vector that is not base64 of float32 numbers ({err})") from None
    if not len(vector):
        raise _Problem("has an empty vector")
    if seen.dimension is not None and len(vector) != seen.dimension:
        raise _Problem(f"has a vector of {len(vector)} numbers, the earlier ones {seen.dimension}")
    if not np.isfinite(vector).all():
        raise _Problem("has a vector with NaN or infinite numbers")
    seen.dimension = len(vector)
    seen.embeddings.add(values["key"])


def _document(seen: _Seen, values: dict[str, Any]) -> None:
    key = (values["namespace"], values["id"])
    if key in seen.documents:
        raise _Problem(f"repeats the document {values['id']!r} of namespace {values['namespace']!r}")
    seen.documents.add(key)


def _passage(seen: _Seen, values: dict[str, Any]) -> None:
    seen.new("passage", values["id"])
    if (values["namespace"], values["document_id"]) not in seen.documents:
        raise _Problem(
            f"names document {values['document_id']!r} of namespace {values['namespace']!r}, "
            "which no earlier line holds"
        )
    seen.embedding(values["embedding_key"])
    seen.namespaces["passage"][values["id"]] = values["namespace"]


def _entity(seen: _Seen, values: dict[str, Any]) -> None:
    seen.new("entity", values["id"])
    seen.embedding(values["embedding_key"])
    seen.namespaces["entity"][values["id"]] = values["namespace"]


def _fact(seen: _Seen, values: dict[str, Any]) -> None:
    seen.new("fact", values["id"])
    for name in ("subject_id", "object_id"):
        _same_namespace(values["namespace"], seen.namespace_of("entity", values[name]), f"its {name}")
    # No check of embedding_key: a fact is embedded only for fact linking, its key kept either way.
    seen.namespaces["fact"][values["id"]] = values["namespace"]


def _pair(kind: str, first: tuple[str, str], second: tuple[str, str]) -> Callable[[_Seen, dict[str, Any]], None]:
    """The check of a record joining two earlier records ((kind, field) each) of one namespace."""

    def check(seen: _Seen, values: dict[str, Any]) -> None:
        key = (values[first[1]], values[second[1]])
        seen.new(kind, key)
        _same_namespace(seen.namespace_of(first[0], key[0]), seen.namespace_of(second[0], key[1]), f"its {second[1]}")
        seen.pairs[kind].add(key)

    return check


def _note_change(seen: _Seen, values: dict[str, Any]) -> None:
    seen.new("note_change", values["id"])
    seen.namespace_of("passage", values["passage_id"])
    seen.pairs["note_change"].add(values["id"])


def _same_namespace(expected: str, found: str, what: str) -> None:
    if found != expected:
        raise _Problem(f"joins namespace {expected!r} to {what} in namespace {found!r}")


_CHECKS: dict[str, Callable[[_Seen, dict[str, Any]], None]] = {
    "embedding": _embedding,
    "document": _document,
    "passage": _passage,
    "entity": _entity,
    "fact": _fact,
    "mention": _pair("mention", ("passage", "passage_id"), ("entity", "entity_id")),
    "fact_source": _pair("fact_source", ("fact", "fact_id"), ("passage", "passage_id")),
    "synonym": _pair("synonym", ("entity", "a"), ("entity", "b")),
    "link": _pair("link", ("passage", "a"), ("passage", "b")),
    "note_change": _note_change,
}
