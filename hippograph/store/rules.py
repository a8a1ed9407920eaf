"""What every store works out the same way: which facts a write touched, until when a fact
holds, how a note's history values read back, and what a document another writer stored
meanwhile means."""

from __future__ import annotations

import dataclasses
import json

NOTE_FIELDS = ("keywords", "tags", "context")  # the attributes evolution may change
# A batch's new document was stored by another writer since the batch was prepared: the same
# content is written again as a no-op; other content stops the batch with this message.
OTHER_VERSION_STORED = (
    "another writer stored other versions of documents of this batch meanwhile; nothing of "
    "this batch was written, run it again"
)


@dataclasses.dataclass
class Touched:
    """Facts whose sources changed in a write, and the exclusive groups they were in."""

    facts: set[str] = dataclasses.field(default_factory=set)
    groups: set[tuple[str, str]] = dataclasses.field(default_factory=set)


def ends_of(group: list[tuple[str, str, str]]) -> list[tuple[str, str | None]]:
    """When each fact of one exclusive group (subject, relation) stops holding: at the first
    later fact naming another object, else never (None). `group` holds (fact id, object id,
    valid_from) sorted by valid_from, then id."""
    ends = []
    for position, (fact_id, object_id, valid_from) in enumerate(group):
        later = (start for _, other, start in group[position + 1 :] if other != object_id and start > valid_from)
        ends.append((fact_id, next(later, None)))
    return ends


def history_value(stored: str):
    """A history value as the attribute takes it back: lists become tuples."""
    loaded = json.loads(stored)
    return tuple(loaded) if isinstance(loaded, list) else loaded
