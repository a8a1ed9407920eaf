"""A store written by an earlier hippograph opens with this one, reads the same, and takes writes.

tests/data/store-schema-3.sql is the SQL dump of a small store written at commit 77c5ed1 (three
notes in two namespaces, an updated text, a link, facts with validity), before the store's write
algorithm was shared between backends and new indexes were added.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hippograph import Memory
from hippograph.store.sqlite import STORE_FILE

from .invariants import dangling, records

DUMP = Path(__file__).parent / "data" / "store-schema-3.sql"


@pytest.fixture
def old_store(tmp_path) -> Path:
    folder = tmp_path / "old"
    folder.mkdir()
    with sqlite3.connect(folder / STORE_FILE) as db:
        db.executescript(DUMP.read_text(encoding="utf-8"))
    return folder


def _indexes(folder: Path) -> set[str]:
    with sqlite3.connect(folder / STORE_FILE) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_store_of_the_previous_release_reads_the_same_and_takes_writes(old_store, embedder, extractor):
    with Memory(old_store, embedder=embedder, extractor=extractor, read_only=True) as memory:
        before = records(memory)  # as the old file holds them, read without changing it
        # no full-text index in the file: the words are ranked in memory
        assert [hit.document_id for hit in memory.query("Who moved to Kessel?", namespace="other", method="bm25")] == [
            "n2"
        ]
    assert "passages_by_embedding" not in _indexes(old_store)

    with Memory(old_store, embedder=embedder, extractor=extractor) as memory:
        assert records(memory) == before
        assert "passages_by_embedding" in _indexes(old_store)  # added when opened to write
        stats = memory.stats()
        assert (stats.documents, stats.passages, stats.links) == (3, 3, 1)
        assert memory.namespaces() == ["default", "other"]
        updated = memory.document("n3").passage_ids[0]
        assert "text" in [c.field for c in memory.history(updated)]  # the update, with its new tags and context
        assert "n1" in [hit.document_id for hit in memory.query("Who founded Brightwater Labs?", k=2)]
        assert {fact.relation for fact in memory.facts("Mira Holt")} and dangling(before) == []

        telescopes = memory.query("telescopes", method="bm25")
        assert [hit.document_id for hit in telescopes] == ["n3"]  # the old notes are in the file's index

        memory.add("Ida Marsh repairs telescopes in Kessel.", id="n4", namespace="other")
        memory.delete("n2", namespace="other")
        assert memory.stats("other").documents == 1
        kessel = memory.query("Who is in Kessel?", namespace="other", method="bm25")
        assert [hit.document_id for hit in kessel] == ["n4"]
        assert dangling(records(memory)) == []
