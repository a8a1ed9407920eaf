"""HippoRAG 2's "recognition memory": an LLM keeps only the linked facts that bear on the question.

Off by default (Config.llm_fact_filter); it matters only with fact linking on (fact_weight > 0),
and HippoRAG 2 measured it at under one point of recall.
"""

from __future__ import annotations

from typing import Any

from ..errors import LLMOutputError
from ..llm.client import LLMClient, chat

PROMPT_VERSION = "fact-filter-1"
_TASK = """Question: {question}

Candidate facts:
{facts}

Which of these facts could help answer the question? Keep a fact only if it is about something the question \
asks about or a step towards the answer.

Reply with a JSON object with one field, "relevant": a list of the numbers of the facts to keep."""
FILTER_SCHEMA = {
    "type": "object",
    "properties": {"relevant": {"type": "array", "items": {"type": "integer"}}},
    "required": ["relevant"],
    "additionalProperties": False,
}


class FactFilter:
    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def relevant(self, question: str, facts: list[tuple[str, str, str]]) -> list[int]:
        """Indexes (0-based, in order) of the facts the model keeps."""
        if not facts:
            return []
        listing = "\n".join(f"{n}. ({s}; {r}; {o})" for n, (s, r, o) in enumerate(facts, 1))
        messages = chat(
            "You judge which facts matter for a question. Reply with JSON only.",
            _TASK.format(question=question, facts=listing),
        )
        kept = self.client.json(
            messages,
            FILTER_SCHEMA,
            name="relevant_facts",
            prompt_version=PROMPT_VERSION,
            validate=lambda value: _numbers(value, len(facts)),
            max_tokens=128,
        )
        return [n - 1 for n in kept]


def _numbers(value: Any, count: int) -> list[int]:
    items = value.get("relevant") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise LLMOutputError('expected {"relevant": [numbers]}')
    return sorted(
        {item for item in items if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= count}
    )
