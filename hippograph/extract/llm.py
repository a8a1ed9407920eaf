"""OpenIE with an LLM over any OpenAI-compatible endpoint, in two steps as in HippoRAG:
first the passage's named entities, then subject–relation–object triples that use them.

A passage whose calls keep failing gets an Extraction with `error` set: the ingest stores
the passage with that failure recorded (`hippograph ingest --retry-failed` tries again) and
goes on with the rest. An endpoint that cannot be used at all (LLMError) stops the batch
before anything of it is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from ..errors import LLMCallFailed, LLMOutputError
from ..llm.client import LLMClient, chat
from ..llm.pool import call_each
from ..types import Extraction, Passage, Triple

log = logging.getLogger(__name__)
PROMPT_VERSION = "openie-2"

_SYSTEM = (
    "You build a knowledge graph from text. You read one passage at a time and reply with JSON only, "
    "exactly in the shape asked for."
)
_ENTITIES_TASK = """List the named entities of this passage: people, organisations, places, works, events, \
products, dates and quantities that a question could ask about. Write each as it appears in the passage, once.

Passage:
{passage}

Reply with a JSON object with one field, "entities": a list of strings."""
_TRIPLES_TASK = """Write the facts this passage states as subject, relation, object triples. Use the named \
entities below as subjects and objects wherever they fit, spelled the same way; write each relation as a short \
verb phrase ("was born in", "directed", "is the capital of"). Replace pronouns with the names they stand for. \
Leave out anything the passage does not say.

Passage:
{passage}

Named entities: {entities}

Reply with a JSON object with one field, "triples": a list of objects, each with the string fields \
"subject", "relation" and "object"."""

ENTITIES_SCHEMA = {
    "type": "object",
    "properties": {"entities": {"type": "array", "items": {"type": "string"}}},
    "required": ["entities"],
    "additionalProperties": False,
}
TRIPLES_SCHEMA = {
    "type": "object",
    "properties": {
        "triples": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string"},
                    "relation": {"type": "string"},
                    "object": {"type": "string"},
                },
                "required": ["subject", "relation", "object"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["triples"],
    "additionalProperties": False,
}


class LLMExtractor:
    """Named entities, then triples, per passage; passages run `max_concurrency` at a time."""

    def __init__(self, client: LLMClient, *, progress: bool = True) -> None:
        self.client = client
        self.progress = progress

    @property
    def name(self) -> str:
        return f"llm:{self.client.settings.model}:{PROMPT_VERSION}"

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        results = call_each(
            self._extract_one,
            passages,
            workers=self.client.settings.max_concurrency,
            desc="LLM extraction",
            unit="passage",
            progress=self.progress,
        )
        failed = sum(1 for r in results if r.error)
        if failed:
            log.warning(
                "LLM extraction failed for %d of %d passage(s); they are stored with the failure "
                "recorded (retry with `hippograph ingest --retry-failed`)",
                failed,
                len(passages),
            )
        return results

    def _extract_one(self, passage: Passage) -> Extraction:
        text = passage.embedding_text
        try:
            entities = self.client.json(
                chat(_SYSTEM, _ENTITIES_TASK.format(passage=text)),
                ENTITIES_SCHEMA,
                name="named_entities",
                prompt_version=PROMPT_VERSION,
                validate=entity_list,
                max_tokens=512,
            )
            task = _TRIPLES_TASK.format(passage=text, entities=json.dumps(entities, ensure_ascii=False))
            triples = self.client.json(
                chat(_SYSTEM, task),
                TRIPLES_SCHEMA,
                name="triples",
                prompt_version=PROMPT_VERSION,
                validate=triple_list,
                max_tokens=1024,
            )
        except LLMCallFailed as err:
            log.info("passage %s: %s", passage.id, err)
            return Extraction(error=str(err) or type(err).__name__)
        return Extraction(entities=entities, triples=[Triple(*t) for t in triples])


def _has_word(text: str) -> bool:
    """Whether a phrase holds a letter or digit (not empty, not a placeholder such as "...")."""
    return any(c.isalnum() for c in text)


def entity_list(value: Any) -> list[str]:
    """Entity names from {"entities": [...]} (or a bare list): strings kept once, in order."""
    items = value.get("entities", value.get("named_entities")) if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise LLMOutputError(f"expected a list of entities, got {type(items).__name__}")
    names = [" ".join(item.split()) for item in items if isinstance(item, str)]
    kept = list(dict.fromkeys(name for name in names if _has_word(name)))
    if items and not kept:
        raise LLMOutputError(f"none of the {len(items)} entities is a name: {str(items)[:120]}")
    return kept


def triple_list(value: Any) -> list[list[str]]:
    """[subject, relation, object] lists from {"triples": [...]} (or a bare list); each triple an
    object with those keys or a list of three strings. Triples of another shape are skipped."""
    items = value.get("triples") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise LLMOutputError(f"expected a list of triples, got {type(items).__name__}")
    triples, skipped = [], 0
    for item in items:
        if isinstance(item, dict):
            item = [item.get("subject"), item.get("relation", item.get("predicate")), item.get("object")]
        parts = [" ".join(p.split()) if isinstance(p, str) else "" for p in item] if isinstance(item, list) else []
        if len(parts) == 3 and all(_has_word(part) for part in parts):
            triples.append(parts)
        else:
            skipped += 1
    if items and not triples:
        raise LLMOutputError(f"none of the {len(items)} triples has the right shape: {str(items)[:120]}")
    if skipped:
        log.info("skipped %d triple(s) of the wrong shape", skipped)
    return triples
