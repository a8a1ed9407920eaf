"""Importing triples that another tool already extracted, instead of extracting them here.

Two formats are read:
  * JSONL, one record a line: ``{"id", "extracted_entities", "extracted_triples"}`` (as in
    ../shared/datasets/musique/openie-*.jsonl), matched to passages by document id;
  * HippoRAG's OpenIE JSON: ``{"docs": [{"passage", "extracted_entities", "extracted_triples"}]}``,
    matched to passages by their text ("title\\ntext" or the text alone).
Triples of the wrong shape are skipped and counted in the log, never fatal. A JSONL file is
checked whole when opened but kept on disk: only each record's place is held, and a record is
read again when its passage comes (a million passages' triples take gigabytes as objects), so
the file must stay as it is while the extractor is in use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import SourceError
from ..sources import jsonl_records, read_text
from ..types import Extraction, Passage, Triple

log = logging.getLogger(__name__)


def _text_key(text: str) -> str:
    return " ".join(text.split())


class PrecomputedExtractor:
    """Looks each passage up in a file of extracted triples; a passage not found gets none."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # passage document id or text -> the record's byte offset (JSONL) or its place in _docs (JSON)
        self._by_id: dict[str, int] = {}
        self._by_text: dict[str, int] = {}
        self._docs: list[dict] | None = None  # the records of a JSON file (None: JSONL, read from disk)
        self.skipped_triples = 0
        self.unmatched_passages = 0
        self._load()

    @property
    def name(self) -> str:
        return f"precomputed:{self.path.name}"

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        results = []
        with self.path.open("rb") as file:
            for passage in passages:
                place = self._by_id.get(passage.document_id)
                if place is None:
                    place = self._by_text.get(_text_key(passage.embedding_text))
                if place is None:
                    place = self._by_text.get(_text_key(passage.text))
                if place is None:
                    self.unmatched_passages += 1
                    results.append(Extraction())
                else:
                    results.append(self._extraction(self._record(place, file)))
        if self.unmatched_passages:
            log.warning("%s: no triples for %d passage(s) so far", self.path.name, self.unmatched_passages)
        return results

    def _record(self, place: int, file: BinaryIO) -> dict:
        if self._docs is not None:
            return self._docs[place]
        file.seek(place)
        return json.loads(file.readline().decode("utf-8-sig"))

    def _load(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"no such triples file: {self.path}")
        if self.path.suffix.lower() == ".jsonl":
            for where, offset, record in jsonl_records(self.path):
                self._add(record, where, offset)
        else:
            data = _parse(read_text(self.path), str(self.path))
            docs = data.get("docs") if isinstance(data, dict) else data
            if not isinstance(docs, list):
                raise SourceError(f'{self.path}: expected {{"docs": [...]}} (HippoRAG OpenIE) or a JSON list')
            self._docs = docs
            for index, record in enumerate(docs):
                self._add(record, f"{self.path} record {index}", index)
        if self.skipped_triples:
            log.warning("%s: skipped %d triple(s) of the wrong shape", self.path.name, self.skipped_triples)
        log.info("%s: triples for %d passages", self.path.name, len(self._by_id) + len(self._by_text))

    def _add(self, record: Any, where: str, place: int) -> None:
        """Check a record and note where it is; its triples of the wrong shape are counted."""
        if not isinstance(record, dict):
            raise SourceError(f"{where}: expected a JSON object")
        self.skipped_triples += len(_list(record.get("extracted_triples"))) - len(self._extraction(record).triples)
        if record.get("id") is not None:
            self._by_id[str(record["id"])] = place
        elif isinstance(record.get("passage"), str):
            self._by_text[_text_key(record["passage"])] = place
        else:
            raise SourceError(f"{where}: a record needs an 'id' or a 'passage' to match it to a passage")

    @staticmethod
    def _extraction(record: dict) -> Extraction:
        """A record's entities and its triples of the right shape (three non-empty strings)."""
        return Extraction(
            entities=[e.strip() for e in _list(record.get("extracted_entities")) if isinstance(e, str) and e.strip()],
            triples=[
                Triple(*(" ".join(part.split()) for part in item))
                for item in _list(record.get("extracted_triples"))
                if isinstance(item, (list, tuple))
                and len(item) == 3
                and all(isinstance(part, str) and part.strip() for part in item)
            ],
        )


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(f"{where}: invalid JSON ({err.msg})") from None
