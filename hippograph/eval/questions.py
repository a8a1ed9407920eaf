"""Loading benchmark questions: JSONL records with `id`, `question`, `answers`, `supporting_ids`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..sources import read_jsonl


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...]
    type: str = ""


def load_questions(path: str | Path) -> list[Question]:
    """Every question of a JSONL file; a malformed line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"no such questions file: {path}")
    questions = []
    for where, record in read_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise SourceError(f"{where}: expected an object with a 'question' string")
        supporting = record.get("supporting_ids")
        if not isinstance(supporting, list) or not all(isinstance(s, (str, int)) for s in supporting):
            raise SourceError(f"{where}: 'supporting_ids' must be a list of ids")
        questions.append(
            Question(
                id=str(record.get("id", where.rsplit(" ", 1)[-1])),  # default: the line number
                question=record["question"],
                answers=tuple(str(a) for a in record.get("answers") or []),
                supporting_ids=tuple(str(s) for s in supporting),
                type=str(record.get("type", "")),
            )
        )
    if not questions:
        raise SourceError(f"{path} holds no questions")
    return questions
