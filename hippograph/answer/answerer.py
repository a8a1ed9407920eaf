"""The LLM answerer: a short answer to a question from numbered passages, citing the ones it used."""

from __future__ import annotations

import re
from typing import Any

from ..errors import LLMOutputError
from ..llm.client import LLMClient, chat
from ..types import Answer, Hits

PROMPT_VERSION = "answer-2"
_SYSTEM = (
    "You answer questions from the numbered passages you are given and from nothing else. You reply "
    "with JSON only, exactly in the shape asked for."
)
_TASK = """Passages:
{passages}

Question: {question}

Answer as briefly as the question allows: a name, a date, a number or a short phrase. Then list the numbers \
of the passages the answer comes from. If the passages do not contain the answer, answer "unknown" and cite \
no passage.

Reply with a JSON object with two fields: "answer", a string, and "citations", a list of passage numbers."""


def answer_schema(passages: int) -> dict:
    """The reply's JSON schema; at most one citation per passage (small models otherwise count on)."""
    citations = {"type": "array", "items": {"type": "integer"}, "maxItems": passages}
    return {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "citations": citations},
        "required": ["answer", "citations"],
        "additionalProperties": False,
    }


class Answerer:
    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def answer(self, question: str, hits: Hits) -> Answer:
        passages = "\n\n".join(
            f"[{n}] {hit.title + ': ' if hit.title else ''}{hit.text}" for n, hit in enumerate(hits, 1)
        )
        messages = chat(_SYSTEM, _TASK.format(passages=passages, question=question))
        text, cited = self.client.json(
            messages,
            answer_schema(len(hits)),
            name="answer",
            prompt_version=PROMPT_VERSION,
            validate=lambda value: answer_and_citations(value, len(hits)),
            max_tokens=256,
        )
        return Answer(question, text, tuple(hits[n - 1] for n in cited), hits)


def answer_and_citations(value: Any, passages: int) -> tuple[str, list[int]]:
    """The answer text and the cited passage numbers (1-based, each once, only those that exist)."""
    answer = value.get("answer") if isinstance(value, dict) else None
    if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
        raise LLMOutputError('expected {"answer": "...", "citations": [...]}')
    text = " ".join(str(answer).split())
    if not any(c.isalnum() for c in text):
        raise LLMOutputError(f"the model gave no answer ({text!r})")
    raw = value.get("citations") or []
    numbers = [_passage_number(item) for item in (raw if isinstance(raw, list) else [raw])]
    return text, list(dict.fromkeys(n for n in numbers if n is not None and 1 <= n <= passages))


def _passage_number(item: Any) -> int | None:
    """2, 2.0, "2" and "[2]" name passage 2; anything else names none."""
    if isinstance(item, bool):
        return None
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if isinstance(item, int):
        return item
    match = re.fullmatch(r"\s*\[?\s*(\d{1,6})\s*\]?\s*", item) if isinstance(item, str) else None
    return int(match.group(1)) if match else None
