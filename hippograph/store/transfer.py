"""Moving a memory between stores (`hippograph export` / `hippograph import`): every record as one
JSON line, in a format no backend owns.

The first line is a header naming the format, its version and the embedding model of the
vectors. Then come the records, each ``{"record": TYPE, FIELD: VALUE, ...}`` with exactly the
fields RECORDS lists, every record after the records it refers to. Vectors are base64 of
little-endian float32. Exporting the same store twice gives the same lines.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import SourceError, StoreError

FORMAT = "hippograph-export"
VERSION = 1
# record type -> its fields, in the order a store writes and reads them back
RECORDS: dict[str, tuple[str, ...]] = {
    "embedding": ("key", "vector"),
    "document": ("namespace", "id", "title", "source", "metadata", "content_hash", "created_at"),
    "passage": (
        "id",
        "namespace",
        "document_id",
        "position",
        "title",
        "text",
        "embedding_key",
        "extractor",
        "created_at",
        "extraction_error",
        "keywords",
        "tags",
        "context",
        "updated_at",
        "times",
    ),
    "entity": ("id", "namespace", "key", "name", "embedding_key"),
    "mention": ("passage_id", "entity_id"),
    "fact": (
        "id",
        "namespace",
        "subject_id",
        "relation",
        "object_id",
        "embedding_key",
        "relation_group",
        "valid_from",
        "valid_to",
    ),
    "fact_source": ("fact_id", "passage_id"),
    "synonym": ("a", "b", "weight"),
    "link": ("a", "b", "kind", "reason", "weight", "created_at"),
    "note_change": ("id", "passage_id", "field", "old_value", "new_value", "changed_by", "source_note", "changed_at"),
}
Record = tuple[str, dict[str, Any]]
# Fields every store keeps as JSON text, and the export as JSON values.
_JSON_TEXT = {
    "document": ("metadata",),
    "passage": ("keywords", "tags", "times"),
    "note_change": ("old_value", "new_value"),
}
# Fields added to a record type since exports were first written, and their value in an older one.
_ADDED_FIELDS = {"passage": {"times": []}}


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float32)


def to_export(kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    """A record as the export holds it, from a store's row (vectors as float32 bytes, JSON text)."""
    values = dict(stored)
    if kind == "embedding":
        values["vector"] = encode_vector(np.frombuffer(values["vector"], dtype=np.float32))
    for name in _JSON_TEXT.get(kind, ()):
        values[name] = json.loads(values[name])
    return values


def from_export(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A store's row from an exported record: the inverse of `to_export`."""
    row = dict(values)
    if kind == "embedding":
        row["vector"] = decode_vector(row["vector"]).tobytes()
    for name in _JSON_TEXT.get(kind, ()):
        row[name] = json.dumps(row[name], sort_keys=kind == "document")
    return row


def write_export(embedding_model: str | None, records: Iterable[Record], out: TextIO) -> dict[str, int]:
    """Write the header and `records` as JSON lines; return how many records of each type."""
    out.write(json.dumps({"format": FORMAT, "version": VERSION, "embedding_model": embedding_model}) + "\n")
    counts = dict.fromkeys(RECORDS, 0)
    for kind, values in records:
        out.write(
            json.dumps({"record": kind, **{name: values[name] for name in RECORDS[kind]}}, ensure_ascii=False) + "\n"
        )
        counts[kind] += 1
    return counts


def write_export_file(path: Path, embedding_model: str | None, records: Iterable[Record]) -> dict[str, int]:
    """`write_export` to a file, all or nothing: a failed export leaves no half file behind."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as out:
            counts = write_export(embedding_model, records, out)
        partial.replace(path)
    except BaseException as err:
        partial.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise SourceError(f"cannot write {path}: {err}") from None
        raise
    return counts


def import_export_file(path: Path, store, embedding_model: str) -> dict[str, int]:
    """Read a file `write_export` wrote into an empty store (`store.load`: all of it or nothing),
    whose memory embeds with `embedding_model`; return how many records of each type."""
    try:
        with open(path, encoding="utf-8") as lines:
            return load_records(*read_export(lines, str(path)), str(path), store, embedding_model)
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(f"cannot read {path}: {err}") from None


def load_records(
    model: str | None, records: Iterable[Record], origin: str, store, embedding_model: str
) -> dict[str, int]:
    """Write `records` (vectors of `model`, read from `origin`) into an empty store whose memory
    embeds with `embedding_model`; return how many records of each type."""
    if model is not None and model != embedding_model:
        raise StoreError(
            f"{origin} holds vectors of embedding model {model!r}, not {embedding_model!r}; "
            "import it into a memory with that model"
        )
    counts = dict.fromkeys(RECORDS, 0)
    store.load(model, _counted(records, counts))
    return counts


def _counted(records: Iterable[Record], counts: dict[str, int]) -> Iterator[Record]:
    """`records` as they are, counted by type into `counts` as they pass."""
    for kind, values in records:
        counts[kind] += 1
        yield kind, values


def read_export(lines: Iterable[str], source: str) -> tuple[str | None, Iterator[Record]]:
    """The embedding model a file's vectors come from, and its records (checked as they are read,
    see export_check.py: a SourceError names the line of anything malformed or not fitting)."""
    numbered = enumerate(lines, 1)
    header = _json(next(numbered, (1, ""))[1], source, 1)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SourceError(f"{source} is not a hippograph export (its first line names no {FORMAT!r} format)")
    if header.get("version") != VERSION:
        raise SourceError(
            f"{source} is a version {header.get('version')!r} export; this hippograph reads version {VERSION}"
        )
    from .export_check import checked_records  # it builds on this module's records

    return header.get("embedding_model"), checked_records(_records(numbered, source), source)


def _records(numbered: Iterator[tuple[int, str]], source: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for number, line in numbered:
        if not line.strip():
            continue
        value = _json(line, source, number)
        kind = value.get("record") if isinstance(value, dict) else None
        if kind not in RECORDS:
            raise SourceError(f"{source}, line {number}: unknown record type {kind!r}")
        value = {**_ADDED_FIELDS.get(kind, {}), **value}
        fields = set(value) - {"record"}
        if fields != set(RECORDS[kind]):
            missing, extra = set(RECORDS[kind]) - fields, fields - set(RECORDS[kind])
            raise SourceError(
                f"{source}, line {number}: a {kind} record needs the fields {', '.join(RECORDS[kind])} "
                f"(missing: {', '.join(sorted(missing)) or '-'}; unknown: {', '.join(sorted(extra)) or '-'})"
            )
        yield number, kind, {name: value[name] for name in RECORDS[kind]}


def _json(line: str, source: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise SourceError(f"{source}, line {number}: not JSON ({err.msg})") from None
