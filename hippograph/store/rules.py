"""What every store works out the same way: which facts a write touched, until when a fact
holds, how a note's history values read back, and what a document another writer stored
meanwhile means."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

NOTE_FIELDS = ("keywords", "tags", "context")  # the attributes evolution may change
# A batch's new document was stored by another writer since the batch was prepared: the same
# content is written again as a no-op; other content stops the batch with this message.
OTHER_VERSION_STORED = (
    "another writer stored other versions of documents of this batch meanwhile; nothing of "
    "this batch was written, run it again"
)


@dataclasses.dataclass
class Touched:
    """Facts whose sources changed in a write: `facts` lost some (their start is worked out from
    all their sources again), `stated` gained some (fact id -> the new sources' passages: a start
    can only move earlier); `new_facts` the facts the write inserted (all their sources are in
    `stated`); and the exclusive groups they are in, each with the earliest time a touched fact
    of it held from (before or after the write)."""

    facts: set[str] = dataclasses.field(default_factory=set)
    stated: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    new_facts: set[str] = dataclasses.field(default_factory=set)
    groups: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    def add_groups(self, facts: Iterable[dict]) -> None:
        """Note the exclusive groups of fact rows at their `valid_from` (a new fact's, still
        unset, is noted once it is known)."""
        for row in facts:
            if row["relation_group"] is not None and row["valid_from"] is not None:
                key = (row["subject_id"], row["relation_group"])
                self.groups[key] = min(self.groups.get(key, row["valid_from"]), row["valid_from"])


def ends_of(group: list[tuple[str, str, str]]) -> list[tuple[str, str | None]]:
    """When each fact of one exclusive group (subject, relation) stops holding: at the first
    later fact naming another object, else never (None). `group` holds (fact id, object id,
    valid_from) sorted by valid_from, then id.

    One pass from the latest fact back, keeping the earliest later start and the earliest later
    start of another object than that one's: a popular subject's group holds thousands of facts."""
    ends: list[str | None] = [None] * len(group)
    first: tuple[str, str] | None = None  # (start, object) of the earliest later fact
    other: str | None = None  # the earliest later start of an object other than first's
    position = len(group)
    while position:
        start = group[position - 1][2]
        same = position  # the facts starting at `start` end alike: only strictly later ones count
        while position and group[position - 1][2] == start:
            position -= 1
        for place in range(position, same):
            if first is not None:
                ends[place] = first[0] if group[place][1] != first[1] else other
        for _, object_id, _ in group[position:same]:
            if first is not None and object_id != first[1]:
                other = first[0]
            first = (start, object_id)
    return [(fact_id, end) for (fact_id, _, _), end in zip(group, ends)]


def history_value(stored: str):
    """A history value as the attribute takes it back: lists become tuples."""
    loaded = json.loads(stored)
    return tuple(loaded) if isinstance(loaded, list) else loaded
