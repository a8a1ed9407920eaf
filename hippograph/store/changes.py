"""The change log: which graph records each write touched, so that a graph view catches up by
reading only those (graph/delta.py) instead of the whole namespace.

Every write transaction of a `RecordStore` runs on a `ChangeRecorder`, which notes the keys of
the graph records (passages, entities, facts, mentions, synonyms, links) it inserts, updates or
deletes. At the end of the transaction `log_write` numbers the write (meta "change_seq") and
keeps its keys in a ring of `RING` meta entries ("change:<seq % RING>"), so the log never grows:
a view more than `RING` writes behind, or behind a write too large to log (`MAX_LOGGED_KEYS`;
a bulk ingest or an import), is built again from the store instead. Keys of a delete that
cascades (a passage's mentions and links, an entity's mentions and synonyms) are not noted one
by one: the node's key is noted as deleted, and a view drops every edge of a deleted node.

Only the backend-neutral primitives `meta` and `set_meta` are used, so the log works the same
on SQLite and on a Bolt graph server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Key, Records, record_key

__all__ = ["GRAPH_KINDS", "ChangeRecorder", "Changes", "log_write", "read_changes"]

GRAPH_KINDS = ("passage", "entity", "fact", "mention", "synonym", "link")  # what a graph view holds
NODE_KINDS = ("passage", "entity")  # deleting one deletes its edges (base.Records.delete)
RING = 64  # writes kept in the log
MAX_LOGGED_KEYS = 2_000  # a write touching more is logged as "build the view again"


class ChangeRecorder:
    """Records (base.Records) that note which graph records a write touches; reads pass through.
    `inserted` and `deleted` also give a write's net count of a kind without counting the store."""

    def __init__(self, records: Records) -> None:
        self._records = records
        self.changed: dict[str, set[Key]] = {kind: set() for kind in GRAPH_KINDS}
        self.inserted: dict[str, set[Key]] = {kind: set() for kind in GRAPH_KINDS}
        self.deleted: dict[str, set[Key]] = {kind: set() for kind in GRAPH_KINDS}
        self.embedded: set[str] = set()  # keys of the vectors it stored

    def __getattr__(self, name: str) -> Any:  # get, find, scan, count, meta, set_meta
        return getattr(self._records, name)

    def insert(self, kind: str, rows: list[dict]) -> None:
        self._records.insert(kind, rows)
        if kind == "embedding":
            self.embedded |= {row["key"] for row in rows}
        if kind in self.changed:
            keys = {record_key(kind, row) for row in rows}
            self.changed[kind] |= keys
            self.inserted[kind] |= keys

    def update(self, kind: str, changes: Mapping[Key, dict]) -> None:
        self._records.update(kind, changes)
        if kind in self.changed:
            self.changed[kind] |= set(changes)

    def delete(self, kind: str, keys: Iterable[Key]) -> None:
        keys = list(keys)
        self._records.delete(kind, keys)
        if kind in self.changed:
            self.changed[kind] |= set(keys)
            self.deleted[kind] |= set(keys)

    def net_count(self, kind: str) -> int:
        """How many records of `kind` this write added, less those it deleted."""
        return len(self.inserted[kind] - self.deleted[kind]) - len(self.deleted[kind] - self.inserted[kind])


def log_write(records: Records, recorder: ChangeRecorder | None, namespaces: Iterable[str]) -> None:
    """Number this write, keep what `recorder` noted (None: too much to say, views of every
    namespace are built again), and give each namespace it changed a new version token (graph
    views of the others stay). The first such write gives every namespace of the store one."""
    namespaces = set(namespaces)
    if recorder is not None and recorder.embedded:
        # A fact names its vector by the hash of its text, shared by every namespace: a vector this
        # write stored gives one to the facts of any namespace that had none (written without
        # fact linking), so those facts change too.
        facts = records.find("fact", "embedding_key", recorder.embedded)
        recorder.changed["fact"] |= {row["id"] for row in facts}
        namespaces |= {row["namespace"] for row in facts}
    if records.meta("namespace_versions") is None:
        namespaces |= {row["namespace"] for row in records.scan("document")}
        records.set_meta("namespace_versions", "1")
    if records.meta("store_id") is None:
        records.set_meta("store_id", uuid.uuid4().hex)
    seq = int(records.meta("change_seq") or 0) + 1
    records.set_meta("change_seq", str(seq))
    entry: dict[str, Any] = {"seq": seq, "namespaces": sorted(namespaces)}
    keys = 0 if recorder is None else sum(map(len, recorder.changed.values()))
    if recorder is None or keys > MAX_LOGGED_KEYS:
        entry["reset"] = True
    else:
        entry["changed"] = {kind: sorted(map(_plain, keys)) for kind, keys in recorder.changed.items() if keys}
        entry["deleted"] = {kind: sorted(recorder.deleted[kind]) for kind in NODE_KINDS if recorder.deleted[kind]}
    entry["tokens"] = {namespace: f"{seq}:{uuid.uuid4().hex}" for namespace in sorted(namespaces)}
    records.set_meta(f"change:{seq % RING}", json.dumps(entry))
    for namespace, token in entry["tokens"].items():
        records.set_meta(f"version:{namespace}", token)


@dataclass
class Changes:
    """The graph records the writes to a namespace after some point touched, merged (keys of
    records in other namespaces among them: a write may touch several)."""

    seq: int  # the last write included
    token: str | None  # the namespace's version the last write to it gave (None: no write to it)
    changed: dict[str, set[Key]] = field(default_factory=dict)
    deleted: dict[str, set[Key]] = field(default_factory=dict)  # nodes deleted at some point (maybe added again)


def read_changes(records: Records, namespace: str, store_id: str | None, after: int, token: str) -> Changes | None:
    """What the writes to `namespace` after change number `after` of the store `store_id` touched,
    for a view whose version of the namespace was `token`; None when the log cannot say: another
    store, writes too many or too large to log, or a namespace version the log does not account
    for (a write that kept no log, by an older hippograph, or a store restored from a copy)."""
    if store_id is None or records.meta("store_id") != store_id:
        return None
    seq = int(records.meta("change_seq") or 0)
    if seq < after or seq - after > RING:
        return None
    changes = Changes(seq, None)
    for number in range(after + 1, seq + 1):
        text = records.meta(f"change:{number % RING}")
        entry = json.loads(text) if text else {}
        if entry.get("seq") != number:
            return None
        if namespace not in entry["namespaces"]:
            continue
        if entry.get("reset"):
            return None
        changes.token = entry["tokens"][namespace]
        for target, noted in ((changes.changed, entry["changed"]), (changes.deleted, entry["deleted"])):
            for kind, keys in noted.items():
                target.setdefault(kind, set()).update(tuple(key) if isinstance(key, list) else key for key in keys)
    expected = changes.token or token
    return changes if records.meta(f"version:{namespace}") == expected else None


def _plain(key: Key) -> Key:
    return list(key) if isinstance(key, tuple) else key
