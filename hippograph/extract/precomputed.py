"""Importing triples that another tool already extracted, instead of extracting them here.

Two formats are read:
  * JSONL, one record a line: ``{"id", "extracted_entities", "extracted_triples"}`` (as in
    ../shared/datasets/musique/openie-*.jsonl), matched to passages by document id;
  * HippoRAG's OpenIE JSON: ``{"docs": [{"passage", "extracted_entities", "extracted_triples"}]}``,
    matched to passages by their text ("title\\ntext" or the text alone).
Triples of the wrong shape are skipped and counted in the log, never fatal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..sources import read_jsonl, read_text
from ..types import Extraction, Passage, Triple

log = logging.getLogger(__name__)


def _text_key(text: str) -> str:
    return " ".join(text.split())


class PrecomputedExtractor:
    """Looks each passage up in a file of extracted triples; a passage not found gets none."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_id: dict[str, Extraction] = {}
        self._by_text: dict[str, Extraction] = {}
        self.skipped_triples = 0
        self.unmatched_passages = 0
        self._load()

    @property
    def name(self) -> str:
        return f"precomputed:{self.path.name}"

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        results = []
        for passage in passages:
            found = (
                self._by_id.get(passage.document_id)
                or self._by_text.get(_text_key(passage.embedding_text))
                or self._by_text.get(_text_key(passage.text))
            )
            if found is None:
                self.unmatched_passages += 1
                found = Extraction()
            results.append(found)
        if self.unmatched_passages:
            log.warning("%s: no triples for %d passage(s) so far", self.path.name, self.unmatched_passages)
        return results

    def _load(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"no such triples file: {self.path}")
        if self.path.suffix.lower() == ".jsonl":
            for where, record in read_jsonl(self.path):
                self._add(record, where)
        else:
            data = _parse(read_text(self.path), str(self.path))
            docs = data.get("docs") if isinstance(data, dict) else data
            if not isinstance(docs, list):
                raise SourceError(f'{self.path}: expected {{"docs": [...]}} (HippoRAG OpenIE) or a JSON list')
            for index, record in enumerate(docs):
                self._add(record, f"{self.path} record {index}")
        if self.skipped_triples:
            log.warning("%s: skipped %d triple(s) of the wrong shape", self.path.name, self.skipped_triples)
        log.info("%s: triples for %d passages", self.path.name, len(self._by_id) + len(self._by_text))

    def _add(self, record: Any, where: str) -> None:
        if not isinstance(record, dict):
            raise SourceError(f"{where}: expected a JSON object")
        extraction = Extraction(
            entities=[e.strip() for e in record.get("extracted_entities") or [] if isinstance(e, str) and e.strip()],
            triples=self._triples(record.get("extracted_triples") or []),
        )
        if record.get("id") is not None:
            self._by_id[str(record["id"])] = extraction
        elif isinstance(record.get("passage"), str):
            self._by_text[_text_key(record["passage"])] = extraction
        else:
            raise SourceError(f"{where}: a record needs an 'id' or a 'passage' to match it to a passage")

    def _triples(self, raw: Any) -> list[Triple]:
        triples = []
        for item in raw if isinstance(raw, list) else []:
            if (
                isinstance(item, (list, tuple))
                and len(item) == 3
                and all(isinstance(part, str) and part.strip() for part in item)
            ):
                triples.append(Triple(*(" ".join(part.split()) for part in item)))
            else:
                self.skipped_triples += 1
        return triples


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(f"{where}: invalid JSON ({err.msg})") from None
