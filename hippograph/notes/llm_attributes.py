"""A note's keywords, tags and context line written by the LLM (A-MEM's note construction).

Calls go through the client's cache, keyed by the prompt version, so the same note costs
one call however often it is ingested. A note whose call keeps failing gets its offline
attributes instead (logged and counted); an endpoint that cannot be used at all (LLMError)
stops the batch before anything of it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import LLMCallFailed, LLMOutputError
from ..llm.client import LLMClient, chat
from ..llm.pool import call_each
from ..types import NoteAttributes, Passage
from .attributes import MAX_KEYWORDS, MAX_TAGS

log = logging.getLogger(__name__)
PROMPT_VERSION = "note-attributes-1"
MAX_CONTEXT_CHARACTERS = 300

SYSTEM = "You keep a memory of notes for an assistant. You describe and relate notes, and reply with JSON only."
_TASK = """Describe this note so that it can be found again later.

Note{time}:
{text}

Reply with a JSON object with three fields:
"keywords": up to {keywords} words or names from the note that matter most (people, places, things, key \
concepts), most important first;
"tags": up to {tags} short lowercase labels of its broad topics or its kind (e.g. "travel", "family", "plan");
"context": one sentence saying what the note is about and why it matters."""
ATTRIBUTES_SCHEMA = {
    "type": "object",
    "properties": {
        "keywords": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "context": {"type": "string"},
    },
    "required": ["keywords", "tags", "context"],
    "additionalProperties": False,
}


class LLMAttributes:
    """Note attributes by the LLM, notes running `max_concurrency` at a time."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def write(
        self, passages: Sequence[Passage], offline: Sequence[NoteAttributes], progress: bool = False
    ) -> tuple[list[NoteAttributes], int]:
        """Each passage's attributes, and how many of them fell back to `offline` ones."""
        written = call_each(
            self._write_one,
            passages,
            workers=self.client.settings.max_concurrency,
            desc="LLM note attributes",
            unit="note",
            progress=progress,
        )
        failed = sum(1 for attributes in written if attributes is None)
        if failed:
            log.warning(
                "the LLM could not describe %d of %d note(s); they keep their offline keywords, tags and context",
                failed,
                len(passages),
            )
        return [mine or fallback for mine, fallback in zip(written, offline)], failed

    def _write_one(self, passage: Passage) -> NoteAttributes | None:
        text = f"{passage.title}\n{passage.text}" if passage.title else passage.text
        task = _TASK.format(
            time=f" (written {passage.time})" if passage.time else "", text=text, keywords=MAX_KEYWORDS, tags=MAX_TAGS
        )
        try:
            written = self.client.json(
                chat(SYSTEM, task),
                ATTRIBUTES_SCHEMA,
                name="note_attributes",
                prompt_version=PROMPT_VERSION,
                validate=note_attributes,
                max_tokens=384,
            )
        except LLMCallFailed as err:
            log.info("note %s: %s", passage.id, err)
            return None
        return NoteAttributes(tuple(written["keywords"]), tuple(written["tags"]), written["context"])


def note_attributes(value: Any) -> dict[str, Any]:
    """The reply {"keywords": [...], "tags": [...], "context": "..."} cleaned (as JSON, for the
    cache): words kept once, tags lowercased, lists cut to their limits. A reply without a
    context is unusable."""
    if not isinstance(value, dict):
        raise LLMOutputError(f"expected a JSON object with keywords, tags and context, got {type(value).__name__}")
    context = value.get("context")
    context = " ".join(context.split())[:MAX_CONTEXT_CHARACTERS] if isinstance(context, str) else ""
    if not any(c.isalnum() for c in context):
        raise LLMOutputError(f"the reply has no context sentence: {str(value)[:120]}")
    keywords = phrases(value.get("keywords"))[:MAX_KEYWORDS]
    tags = tuple(dict.fromkeys(tag.lower() for tag in phrases(value.get("tags"))))[:MAX_TAGS]
    return {"keywords": list(keywords), "tags": list(tags), "context": context}


def phrases(items: Any) -> tuple[str, ...]:
    """The strings of a list that hold a word, whitespace collapsed, each once, in order."""
    if not isinstance(items, list):
        return ()
    cleaned = (" ".join(item.split()) for item in items if isinstance(item, str))
    return tuple(dict.fromkeys(item for item in cleaned if any(c.isalnum() for c in item)))
