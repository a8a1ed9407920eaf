"""The LLM's say on a new note's links (A-MEM's link generation and memory evolution): shown the
new note and candidate earlier notes, it picks the related ones, each with a reason, and (when
evolution is on) suggests new tags and context for the notes it links to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import LLMOutputError
from ..llm.client import LLMClient, chat
from ..types import Note, NoteAttributes
from .attributes import MAX_EVOLVED_TAGS
from .llm_attributes import MAX_CONTEXT_CHARACTERS, SYSTEM, phrases

PROMPT_VERSION = "note-links-1"
EXCERPT_CHARACTERS = 400
MAX_REASON_CHARACTERS = 200

_TASK = """A new note arrived in the memory:
{note}

Earlier notes that may be related to it:
{candidates}

Which of the earlier notes is the new note really related to: about the same people, things or events, or \
one explains, continues or contradicts the other? Link only those; none is a fine answer.

{reply}"""
_LINKS_REPLY = """Reply with a JSON object with one field, "links": a list of objects, each with "note" (the \
number of an earlier note) and "reason" (a short phrase saying how the two relate)."""
_EVOLVE_REPLY = """Reply with a JSON object with two fields:
"links": a list of objects, each with "note" (the number of an earlier note) and "reason" (a short phrase \
saying how the two relate);
"updates": for linked notes whose tags or context should change now that the new note is known, objects with \
"note", "tags" (that note's whole new list of tags, at most {tags}) and "context" (its new context sentence)."""

_LINK = {
    "type": "object",
    "properties": {"note": {"type": "integer"}, "reason": {"type": "string"}},
    "required": ["note", "reason"],
    "additionalProperties": False,
}
_UPDATE = {
    "type": "object",
    "properties": {
        "note": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "context": {"type": "string"},
    },
    "required": ["note", "tags", "context"],
    "additionalProperties": False,
}
LINKS_SCHEMA = {
    "type": "object",
    "properties": {"links": {"type": "array", "items": _LINK}},
    "required": ["links"],
    "additionalProperties": False,
}
EVOLVE_SCHEMA = {
    "type": "object",
    "properties": {"links": {"type": "array", "items": _LINK}, "updates": {"type": "array", "items": _UPDATE}},
    "required": ["links", "updates"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class NoteView:
    """What the LLM is shown of a note."""

    text: str
    attributes: NoteAttributes
    time: str | None = None

    @classmethod
    def of(cls, note: Note) -> NoteView:
        return cls(note.text, NoteAttributes(note.keywords, note.tags, note.context), note.created_at)

    def describe(self) -> str:
        text = " ".join(self.text.split())
        if len(text) > EXCERPT_CHARACTERS:
            text = text[:EXCERPT_CHARACTERS] + " ..."
        when = f" (written {self.time})" if self.time else ""
        return f"context: {self.attributes.context}{when}\ntags: {', '.join(self.attributes.tags) or '-'}\ntext: {text}"


@dataclass(frozen=True)
class Update:
    candidate: int  # 0-based index into the candidates
    tags: tuple[str, ...]
    context: str


@dataclass(frozen=True)
class Judgment:
    links: list[tuple[int, str]]  # (0-based candidate index, reason), in the model's order
    updates: list[Update]  # only for linked candidates

    @classmethod
    def of(cls, cleaned: dict[str, Any]) -> Judgment:
        """A Judgment from what `judgment` made of a reply."""
        return cls(
            [(n, reason) for n, reason in cleaned["links"]],
            [Update(n, tuple(tags), context) for n, tags, context in cleaned["updates"]],
        )


class LinkJudge:
    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def judge(self, note: NoteView, candidates: list[NoteView], evolve: bool) -> Judgment:
        """The candidates the new note relates to; LLMCallFailed when the model gives no usable reply."""
        listing = "\n\n".join(f"{n}. {candidate.describe()}" for n, candidate in enumerate(candidates, 1))
        reply = _EVOLVE_REPLY.format(tags=MAX_EVOLVED_TAGS) if evolve else _LINKS_REPLY
        task = _TASK.format(note=note.describe(), candidates=listing, reply=reply)
        cleaned = self.client.json(
            chat(SYSTEM, task),
            EVOLVE_SCHEMA if evolve else LINKS_SCHEMA,
            name="note_links",
            prompt_version=PROMPT_VERSION,
            validate=lambda value: judgment(value, len(candidates)),
            max_tokens=768,
        )
        return Judgment.of(cleaned)


def judgment(value: Any, count: int) -> dict[str, list]:
    """The model's reply about `count` candidates, cleaned (as JSON, for the cache):
    {"links": [[candidate, reason]], "updates": [[candidate, tags, context]]} with 0-based
    candidates. Items naming no candidate are skipped, and updates of notes not linked; a reply
    without a "links" list, or whose links all name none, is unusable."""
    items = value.get("links") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise LLMOutputError(f'expected {{"links": [...]}}, got {str(value)[:120]}')
    links: dict[int, str] = {}
    for item in items:
        number = _number(item, count)
        if number is not None:
            reason = item.get("reason")
            reason = " ".join(reason.split())[:MAX_REASON_CHARACTERS] if isinstance(reason, str) else ""
            links.setdefault(number, reason or "related (LLM)")
    if items and not links:
        raise LLMOutputError(f"none of the {len(items)} links names one of the {count} notes: {str(items)[:120]}")
    updates = []
    suggested = value.get("updates")
    for item in suggested if isinstance(suggested, list) else []:
        number = _number(item, count)
        if number in links:
            context = item.get("context")
            context = " ".join(context.split())[:MAX_CONTEXT_CHARACTERS] if isinstance(context, str) else ""
            tags = tuple(dict.fromkeys(tag.lower() for tag in phrases(item.get("tags"))))[:MAX_EVOLVED_TAGS]
            updates.append([number, list(tags), context])
    return {"links": [list(link) for link in links.items()], "updates": updates}


def _number(item: Any, count: int) -> int | None:
    """The 0-based candidate an item names by its 1-based "note" number, or None."""
    number = item.get("note") if isinstance(item, dict) else None
    if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= count:
        return number - 1
    return None
