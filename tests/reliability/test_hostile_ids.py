"""Ids, namespaces and texts that mean something to SQL or Cypher (quotes, backticks, a DROP
TABLE, a DETACH DELETE, NUL, right-to-left marks) are only data, on the SQLite store and on a
graph server: stored, found, exported, imported and deleted exactly, touching nothing else."""

from __future__ import annotations

import pytest

from hippograph import Memory
from hippograph.store.neo4j import Neo4jStore

from ..conftest import EVERY_RECORD
from ..invariants import comparable, dangling, records

HOSTILE = [
    'quote\'s "double"',
    "back`tick` `n`",
    "'); DROP TABLE passages; --",
    "x}) DETACH DELETE n //",
    "nul\x00byte",
    "\u202eright-to-left\u202c",
    "$param {braces} %s ?1",
    "percent % under_score [*]",
    "back\\slash\\",
    "line\nbreak\ttab",
    "emoji \U0001f9e0 e\u0301",
]


@pytest.fixture(params=["sqlite", "bolt"])
def open_store(request, tmp_path, embedder, extractor):
    """Opens empty memories of the kind under test (a new folder or database each call)."""
    server = request.getfixturevalue("bolt_server") if request.param == "bolt" else None
    opened: list[Memory] = []

    def open_() -> Memory:
        if server is None:
            memory = Memory(tmp_path / f"store{len(opened)}", EVERY_RECORD, embedder=embedder, extractor=extractor)
        else:
            store = Neo4jStore(server.uri, server.auth, server.new_database())
            memory = Memory(config=EVERY_RECORD, store=store, embedder=embedder, extractor=extractor)
        opened.append(memory)
        return memory

    yield open_
    for memory in opened:
        memory.close()


def test_hostile_ids_namespaces_and_texts_are_only_data(open_store):
    memory = open_store()
    bystander = memory.add("Mira Holt was born in Veloria.", id="bystander")
    notes = {}
    for value in HOSTILE:
        text = f"Mira Holt wrote {value} in Veloria."
        notes[value] = memory.add(text, id=value, namespace=value, timestamp="2024-05-01")
        assert notes[value].text == text and notes[value].namespace == value
    for value, note in notes.items():
        assert memory.get(note.id, namespace=value).text == note.text
        assert memory.document(value, namespace=value).id == value
        hits = memory.query(f"What did Mira Holt write {value}?", k=3, namespace=value)
        assert [hit.id for hit in hits] == [note.id]  # its namespace holds this note only
    assert sorted(memory.namespaces()) == sorted([*HOSTILE, "default"])
    assert dangling(records(memory)) == []

    copy = open_store()
    memory.copy_to(copy)
    assert comparable(records(copy)) == comparable(records(memory))
    for value, note in notes.items():
        assert copy.get(note.id, namespace=value).text == note.text

    for value in HOSTILE:
        memory.delete(value, namespace=value)
    assert memory.namespaces() == ["default"]
    assert memory.get(bystander.id).text == bystander.text
    assert memory.stats().documents == 1
    assert dangling(records(memory)) == []
