"""LoCoMo conversations (LoCoMo's own JSON schema): loading them, and storing every turn as a note.

A file is a list of conversations; each has `sample_id`, `conversation` (`speaker_a`, `speaker_b`,
`session_N` turn lists with `session_N_date_time`) and `qa` (`question`, `answer` or
`adversarial_answer`, `evidence` dialogue ids such as "D1:3", `category` 1-5).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..memory import Memory
from ..sources import read_text

log = logging.getLogger(__name__)

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_SESSION = re.compile(r"session_(\d+)")
_DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")
_TURN_FIELDS = ("speaker", "dia_id", "text")
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    time: datetime  # the session's date and time, in UTC
    caption: str = ""  # the caption of a photo shared with the turn

    @property
    def note(self) -> str:
        """The text stored for the turn: "Speaker: text", then the photo's caption if any."""
        photo = f" [shares a photo: {self.caption}]" if self.caption else ""
        return f"{self.speaker}: {self.text}{photo}"


@dataclass(frozen=True)
class LocomoQuestion:
    question: str
    answer: str
    evidence: tuple[str, ...]  # dia_ids of the turns that support the answer
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[LocomoQuestion, ...]
    dropped_evidence: int = 0  # evidence ids that are malformed or name no turn
    skipped_questions: int = 0  # questions left with no valid evidence


def load_locomo(path: str | Path) -> list[Conversation]:
    """Every conversation of a LoCoMo JSON file. Evidence ids are kept when they name a turn of the
    conversation; the others are dropped and counted, as are questions left with no evidence."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"no such LoCoMo file: {path}")
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise SourceError(f"{path} line {err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, list) or not data:
        raise SourceError(f"{path}: expected a non-empty JSON list of conversations")
    conversations = [_conversation(record, f"{path} conversation {n}") for n, record in enumerate(data)]
    for c in conversations:
        if c.dropped_evidence or c.skipped_questions:
            log.warning(
                "%s: dropped %d evidence id(s) (malformed or naming no turn); skipped %d question(s) "
                "with no valid evidence",
                c.sample_id,
                c.dropped_evidence,
                c.skipped_questions,
            )
    return conversations


def store_conversation(memory: Memory, conversation: Conversation, namespace: str) -> None:
    """Store every turn of `conversation` as one note in `namespace`, its id the turn's dia_id."""
    for turn in conversation.turns:
        memory.add(
            turn.note, id=turn.dia_id, namespace=namespace, timestamp=turn.time, metadata={"speaker": turn.speaker}
        )


def _conversation(record: Any, where: str) -> Conversation:
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("conversation"), dict)
        or not isinstance(record.get("qa"), list)
    ):
        raise SourceError(f"{where}: expected an object with 'sample_id', a 'conversation' object and a 'qa' list")
    sample_id = str(record.get("sample_id", where.rsplit(" ", 1)[-1]))
    turns = _turns(record["conversation"], sample_id)
    known = {ids[0]: t.dia_id for t in turns if (ids := _dia_ids(t.dia_id))}
    questions, dropped, skipped = [], 0, 0
    for number, item in enumerate(record["qa"]):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("question"), str)
            or not isinstance(item.get("evidence"), list)
            or item.get("category") not in CATEGORIES
        ):
            raise SourceError(f"{sample_id} qa {number}: expected 'question', an 'evidence' list and a 'category' 1-5")
        evidence = []
        for entry in item["evidence"]:  # one entry may name several turns: "D8:6; D9:17"
            ids = _dia_ids(str(entry))
            evidence += [known[i] for i in ids if i in known]
            dropped += sum(i not in known for i in ids) if ids else 1
        if not evidence:
            skipped += 1
            continue
        answer = item.get("answer", item.get("adversarial_answer"))
        questions.append(
            LocomoQuestion(
                item["question"],
                "" if answer is None else str(answer),
                tuple(dict.fromkeys(evidence)),
                item["category"],
            )
        )
    return Conversation(sample_id, tuple(turns), tuple(questions), dropped, skipped)


def _turns(conversation: dict, sample_id: str) -> list[Turn]:
    turns = []
    sessions = sorted((int(m[1]), key) for key in conversation if (m := _SESSION.fullmatch(key)))
    for _, key in sessions:
        if not isinstance(conversation[key], list):
            raise SourceError(f"{sample_id} {key}: expected a list of turns")
        time = _session_time(conversation.get(f"{key}_date_time"), f"{sample_id} {key}_date_time")
        for number, turn in enumerate(conversation[key]):
            if not isinstance(turn, dict) or not all(isinstance(turn.get(f), str) for f in _TURN_FIELDS):
                raise SourceError(f"{sample_id} {key} turn {number}: expected 'speaker', 'dia_id' and 'text' strings")
            turns.append(Turn(turn["dia_id"], turn["speaker"], turn["text"], time, str(turn.get("blip_caption") or "")))
    if not turns:
        raise SourceError(f"{sample_id}: the conversation holds no session_N turns")
    return turns


def _session_time(text: Any, where: str) -> datetime:
    if text is None:
        raise SourceError(f"{where}: missing (every session needs its date)")
    try:
        return datetime.strptime(str(text), _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SourceError(f"{where}: {text!r} is not a date like '1:56 pm on 8 May, 2023'") from None


def _dia_ids(text: str) -> list[str]:
    """The dialogue ids in `text`, written canonically ("D:11:26" and "D11:026" read as "D11:26")."""
    return [f"D{int(session)}:{int(turn)}" for session, turn in _DIA_ID.findall(text)]
