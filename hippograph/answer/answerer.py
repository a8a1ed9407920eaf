"""The LLM answerer: a short answer to a question from numbered passages, citing the ones it used."""

from __future__ import annotations

from typing import Any

from ..errors import LLMOutputError
from ..llm.client import LLMClient
from ..types import Answer, Hits

PROMPT_VERSION = "answer-2"
_SYSTEM = ("You answer questions from the numbered passages you are given and from nothing else. You reply "
           "with JSON only, exactly in the shape asked for.")
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
    return {"type": "object", "properties": {"answer": {"type": "string"}, "citations": citations},
            "required": ["answer", "citations"], "additionalProperties": False}


class Answerer:
    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def answer(self, question: str, hits: Hits) -> Answer:
        passages = "\n\n".join(f"[{n}] {hit.title + ': ' if hit.title else ''}{hit.text}" for n, hit in enumerate(hits, 1))
        messages = [{"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": _TASK.format(passages=passages, question=question)}]
        text, cited = self.client.json(messages, answer_schema(len(hits)), name="answer", prompt_version=PROMPT_VERSION,
                                       validate=lambda value: answer_and_citations(value, len(hits)), max_tokens=256)
        return Answer(question, text, tuple(hits[n - 1] for n in cited), hits)


def answer_and_citations(value: Any, passages: int) -> tuple[str, list[int]]:
    """The answer text and the cited passage numbers (1-based, each once, only those that exist)."""
    if not isinstance(value, dict) or not isinstance(value.get("answer"), (str, int, float)):
        raise LLMOutputError('expected {"answer": "...", "citations": [...]}')
    text = " ".join(str(value["answer"]).split())
    if not any(c.isalnum() for c in text):
        raise LLMOutputError(f"the model gave no answer ({text!r})")
    raw = value.get("citations") or []
    numbers = []
    for item in raw if isinstance(raw, list) else [raw]:
        digits = "".join(c for c in str(item) if c.isdigit())  # 2, "2", "[2]"
        if digits and 1 <= int(digits) <= passages:
            numbers.append(int(digits))
    return text, list(dict.fromkeys(numbers))
