"""How a note's changes are recorded and reverted, inside a write (writes.py's algorithm, over a
backend's `Records`): an update's new text and attributes, and evolved or reverted attributes,
each with the value it replaced in the note's history.
"""

from __future__ import annotations

import json

from ..errors import StoreError
from ..timestamps import now
from ..types import Change
from .base import Records
from .records import AttributeChange, PassageRecord
from .rules import NOTE_FIELDS
from .transfer import RECORDS

__all__ = ["apply_changes", "record_refreshes", "revert"]


def revert(records: Records, change: Change) -> None:
    """Put back the value a recorded attribute change replaced, recording that as a change;
    refused when the attribute changed again since."""
    if change.field not in NOTE_FIELDS:
        raise StoreError(f"change {change.id} is a text change; revert it by updating the note's text")
    if _attribute(records.get("passage", [change.note_id])[change.note_id], change.field) != change.new:
        raise StoreError(
            f"the {change.field} of note {change.note_id} changed again after change "
            f"{change.id}; revert the later changes first"
        )
    apply_changes(records, [AttributeChange(change.note_id, change.field, change.old, "revert")], now())


def record_refreshes(records: Records, refreshed: list[PassageRecord], time: str) -> None:
    """History rows for the text and attributes an update changes, and its update time."""
    stored = records.get("passage", [r.passage.id for r in refreshed])
    changes = []
    for record in refreshed:
        row = stored[record.passage.id]
        old = (row["text"], *(_attribute(row, field) for field in NOTE_FIELDS))
        attributes = record.attributes
        new = (record.passage.text, attributes.keywords, attributes.tags, attributes.context)
        changes += [
            _change_row(record.passage.id, field, before, after, "update", None, time)
            for field, before, after in zip(("text", *NOTE_FIELDS), old, new)
            if before != after
        ]
    records.insert("note_change", changes)
    records.update("passage", {r.passage.id: {"updated_at": time} for r in refreshed})


def apply_changes(records: Records, changes: list[AttributeChange], time: str) -> None:
    """Set evolved (or reverted) note attributes, keeping each old value in the note's history
    (notes read once: a later change of a note sees the earlier)."""
    rows = records.get("passage", {change.passage_id for change in changes})
    updates: dict[str, dict] = {}
    history = []
    for change in changes:
        if change.field not in NOTE_FIELDS:
            raise StoreError(f"a note has no attribute {change.field!r}; use one of {', '.join(NOTE_FIELDS)}")
        row = rows.get(change.passage_id)
        if row is None:  # it went away in this batch (a replaced document)
            continue
        before = _attribute(row, change.field)
        after = change.value if change.field == "context" else tuple(change.value)
        if before == after:
            continue
        row[change.field] = after if change.field == "context" else json.dumps(after)
        updates.setdefault(change.passage_id, {}).update({change.field: row[change.field], "updated_at": time})
        history.append(
            _change_row(change.passage_id, change.field, before, after, change.changed_by, change.source_note, time)
        )
    records.update("passage", updates)
    records.insert("note_change", history)


def _attribute(row: dict, field: str) -> tuple[str, ...] | str:
    """A note attribute of a stored passage row as AttributeChange holds it: lists as tuples."""
    return row[field] if field == "context" else tuple(json.loads(row[field]))


def _change_row(
    passage_id: str, field: str, before, after, changed_by: str, source_note: str | None, time: str
) -> dict:
    """A note_change record without its id (the store numbers it)."""
    values = (passage_id, field, json.dumps(before), json.dumps(after), changed_by, source_note, time)
    return dict(zip(RECORDS["note_change"][1:], values))
