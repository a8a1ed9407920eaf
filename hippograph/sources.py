"""Reading what users give (strings, Documents, JSONL/JSON/.txt/.md files, folders) into Documents.

Every input is read and validated completely before anything is stored, so a
malformed line or file stops the ingest with an error that names it and
leaves the store untouched.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SourceError
from .ids import content_hash
from .types import Document

log = logging.getLogger(__name__)

Source = str | Document | os.PathLike
RECORD_FILES = {".jsonl", ".json"}
TEXT_FILES = {".txt", ".md"}


def read_sources(sources: Source | Iterable[Source]) -> list[Document]:
    """Read every source into Documents; `str` is text, `Path` is a file or folder."""
    if isinstance(sources, (str, Document, os.PathLike)):
        sources = [sources]
    documents: list[Document] = []
    for source in sources:
        documents.extend(_read_one(source))
    return documents


def _read_one(source: Source) -> Iterator[Document]:
    if isinstance(source, Document):
        yield _with_id(_checked(source, f"Document {source.id!r}"))
    elif isinstance(source, str):
        _warn_if_path_like(source)
        yield _with_id(Document(text=source, source="<string>"))
    elif isinstance(source, os.PathLike):
        yield from read_path(Path(source))
    elif isinstance(source, Mapping):
        raise SourceError("cannot ingest a dict: wrap a record as Document(text=..., id=..., title=...)")
    else:
        raise SourceError(f"cannot ingest a {type(source).__name__}: give text, a Document or a path")


def read_path(path: Path) -> Iterator[Document]:
    """Read a file or, recursively, a folder of .jsonl/.json/.txt/.md files."""
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in RECORD_FILES | TEXT_FILES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            log.warning("%s holds no .jsonl, .json, .txt or .md file", path)
        for file in files:
            yield from _read_file(file, file.relative_to(path).as_posix())
    elif path.is_file():
        yield from _read_file(path, path.name)
    else:
        raise SourceError(f"no such file or folder: {path}")


def _read_file(path: Path, name: str) -> Iterator[Document]:
    count = 0
    for document in _file_documents(path, name):
        count += 1
        yield document
    if not count:
        log.warning("%s holds no records: nothing to ingest from it", path)


def _file_documents(path: Path, name: str) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _read_jsonl(path)
    elif suffix == ".json":
        yield from _read_json(path)
    elif suffix in TEXT_FILES:
        text = read_text(path)
        title = _markdown_title(text) if suffix == ".md" else ""
        yield Document(text=text, id=name, title=title or path.stem, source=str(path))
    else:
        raise SourceError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .json, .txt or .md")


def read_text(path: Path) -> str:
    """A file's text as UTF-8 (a byte-order mark is dropped), or a SourceError saying why not."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "convert it to UTF-8 and ingest again"
        ) from None


def read_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) for each non-blank line of a JSONL file; a broken line is a SourceError naming it."""
    for where, _, record in jsonl_records(path):
        yield where, record


def jsonl_records(path: Path) -> Iterator[tuple[str, int, Any]]:
    """(where, byte offset, record) for each non-blank line of a JSONL file, read a line at a
    time (a file of a million records is never held whole); a line that is not UTF-8 or not
    JSON is a SourceError naming it."""
    with path.open("rb") as file:
        end = 0
        for number, raw in enumerate(file, 1):
            start, end = end, end + len(raw)
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise SourceError(
                    f"{path} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {start + err.start}); "
                    "convert it to UTF-8 and ingest again"
                ) from None
            if not line.strip():
                continue
            where = f"{path} line {number}"
            try:
                yield where, start, json.loads(line)
            except json.JSONDecodeError as err:
                raise SourceError(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None


def _read_jsonl(path: Path) -> Iterator[Document]:
    for where, record in read_jsonl(path):
        yield _record_to_document(record, where, str(path))


def _read_json(path: Path) -> Iterator[Document]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise SourceError(f"{path} line {err.lineno}: invalid JSON ({err.msg})") from None
    records = data if isinstance(data, list) else [data]
    for index, record in enumerate(records):
        yield _record_to_document(record, f"{path} record {index}", str(path))


def _record_to_document(record: Any, where: str, source: str) -> Document:
    if not isinstance(record, dict):
        raise SourceError(f"{where}: expected a JSON object with a 'text' field")
    text = record.get("text")
    if not isinstance(text, str):
        raise SourceError(f"{where}: the 'text' field is missing or not a string")
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise SourceError(f"{where}: 'id' must be a string or an integer")
    document = Document(
        text=text,
        id=None if record_id is None else str(record_id),
        title=record.get("title") or "",
        source=source,
        metadata=record.get("metadata") or {},
        vector=record.get("vector"),
    )
    return _with_id(_checked(document, where))


def _checked(document: Document, where: str) -> Document:
    """The document if its fields have the types the store needs, else a SourceError naming it."""
    if not isinstance(document.text, str):
        raise SourceError(f"{where}: the text must be a string, not {type(document.text).__name__}")
    if document.id is not None and not isinstance(document.id, str):
        raise SourceError(f"{where}: the id must be a string, not {type(document.id).__name__}")
    if not isinstance(document.title, str):
        raise SourceError(f"{where}: the title must be a string")
    if not isinstance(document.metadata, dict):
        raise SourceError(f"{where}: the metadata must be an object (a dict)")
    try:
        json.dumps(document.metadata)
    except (TypeError, ValueError) as err:
        raise SourceError(f"{where}: the metadata cannot be stored as JSON ({err})") from None
    if document.vector is not None:
        document = dataclasses.replace(document, vector=_unit_vector(document.vector, where))
    return document


def _unit_vector(given: Any, where: str) -> np.ndarray:
    """A document's given vector as float32 of length 1; SourceError unless it is a list of
    finite numbers, not all 0."""
    try:
        vector = np.asarray(given, dtype=np.float32)
    except (TypeError, ValueError):
        vector = np.zeros(0, dtype=np.float32)
    finite = vector.ndim == 1 and np.isfinite(vector).all()
    norm = float(np.linalg.norm(vector.astype(np.float64))) if finite else 0.0  # float32 would overflow
    if not finite or norm == 0.0:
        raise SourceError(f"{where}: the 'vector' must be a list of finite numbers, not all 0")
    return (vector / norm).astype(np.float32)


def _with_id(document: Document) -> Document:
    if document.id:
        return document
    return dataclasses.replace(document, id=content_hash(document.title, document.text))


def _markdown_title(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _warn_if_path_like(text: str) -> None:
    if "\n" not in text and len(text) < 4096 and Path(text).suffix.lower() in RECORD_FILES | TEXT_FILES:
        if Path(text).exists():
            log.warning("ingesting %r as text; pass pathlib.Path(%r) to ingest the file", text, text)
