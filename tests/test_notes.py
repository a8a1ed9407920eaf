"""Notes: attributes, links used by PageRank, lifecycle (update, delete, history, revert) and time."""

from __future__ import annotations

import sqlite3

import pytest

import hippograph
from hippograph import Memory
from hippograph.embed.neighbours import NeighbourIndex
from hippograph.notes import NoteLinker

# Only p1 names Quentin Marlowe; p2 answers the question but shares no entity with p1 or the
# question, and three distractors are closer to the question than p2 is. Only the note link
# p1 -- p2 (their texts are alike) can bring p2 up.
ORCHARD = [
    ("p1", "Quentin Marlowe keeps a handwritten journal about his apple orchard."),
    ("p2", "The handwritten diary about apple trees says the first saplings went in during 1931."),
    ("d1", "The first trees in Norland were planted by monks in 1120."),
    ("d2", "Volunteers planted the first trees of the city park in 1962."),
    ("d3", "The first cherry trees of Tessaly were planted in 1890."),
    ("d4", "Ilse Brandt repairs tractors in her barn."),
]
ORCHARD_QUESTION = "When were the first trees planted by Quentin Marlowe?"
LINKED = hippograph.Config(link_threshold=0.4, link_edge_weight=3.0)


@pytest.fixture
def open_memory(tmp_path, embedder, extractor):
    opened: list[Memory] = []

    def open_with(config: hippograph.Config | None = None, name: str = "store") -> Memory:
        memory = Memory(tmp_path / name, config, embedder=embedder, extractor=extractor)
        opened.append(memory)
        return memory

    yield open_with
    for memory in opened:
        memory.close()


def rows(memory: Memory, query: str, *args) -> list[tuple]:
    with sqlite3.connect(memory.stats().path) as db:
        return db.execute(query, args).fetchall()


def test_a_note_gets_attributes_offline(open_memory):
    memory = open_memory(hippograph.Config(link_threshold=0.5))
    note = memory.add(
        "Mira Holt founded Brightwater Labs. She was born in Veloria.",
        timestamp="2023-05-08T13:56:00+02:00",
        metadata={"speaker": "Mira"},
    )
    assert note.keywords == ("Mira", "Mira Holt", "Brightwater Labs", "Veloria")  # the speaker is one of its entities
    assert note.context == "Mira Holt founded Brightwater Labs."
    assert note.created_at == "2023-05-08T11:56:00+00:00" and note.updated_at is None
    assert note.metadata == {"speaker": "Mira"} and note.tags == ()
    for text in ("Brightwater Labs hired ten chemists.", "Brightwater Labs opened a plant in Norland."):
        memory.add(text)
    later = memory.add("Brightwater Labs hired Mira Holt's sister.")
    assert later.tags == ("brightwater labs",)  # in 4 notes now
    assert later.keywords[-1] == "Brightwater Labs"  # the least specific last
    assert later.id in [link.note_id for link in memory.get(note.id).links]  # linked from both ends


def test_note_links_carry_pagerank_to_notes_no_entity_reaches(open_memory):
    unlinked = open_memory(hippograph.Config(link_threshold=None), name="unlinked")
    linked = open_memory(LINKED, name="linked")
    for memory in (unlinked, linked):
        for note_id, text in ORCHARD:
            memory.add(text, id=note_id)
    assert "p2" not in [hit.document_id for hit in unlinked.query(ORCHARD_QUESTION, k=3)]
    hits = linked.query(ORCHARD_QUESTION, k=3)
    assert [hit.document_id for hit in hits[:2]] == ["p1", "p2"]
    assert "(linked note)" in str(hits[1].explanation)
    p1, p2 = (linked.get(linked.document(i).passage_ids[0]) for i in ("p1", "p2"))
    link = next(link for link in p2.links if link.note_id == p1.id)
    assert link.kind == "similar" and link.weight >= 0.4 and p2.id in [link.note_id for link in p1.links]


def test_deleting_a_note_leaves_no_dangling_link(open_memory):
    memory = open_memory(LINKED)
    notes = {note_id: memory.add(text, id=note_id) for note_id, text in ORCHARD}
    assert rows(memory, "SELECT COUNT(*) FROM links WHERE a = ?1 OR b = ?1", notes["d2"].id)[0][0] >= 2
    neighbours = [link.note_id for link in memory.get(notes["d2"].id).links]
    memory.delete_note(notes["d2"].id)
    assert rows(memory, "SELECT COUNT(*) FROM links WHERE a = ?1 OR b = ?1", notes["d2"].id) == [(0,)]
    assert rows(
        memory,
        "SELECT COUNT(*) FROM links WHERE a NOT IN (SELECT id FROM passages) OR b NOT IN (SELECT id FROM passages)",
    ) == [(0,)]
    for neighbour in neighbours:
        assert notes["d2"].id not in [link.note_id for link in memory.get(neighbour).links]
    with pytest.raises(hippograph.DocumentNotFound):
        memory.get(notes["d2"].id)
    assert "d2" not in [hit.document_id for hit in memory.query("planted by volunteers", k=6)]


def test_update_extracts_and_links_again_and_keeps_the_old_text(open_memory):
    memory = open_memory(LINKED)
    notes = {note_id: memory.add(text, id=note_id) for note_id, text in ORCHARD}
    d4 = notes["d4"]
    updated = memory.update(d4.id, "Ilse Brandt planted the first pear trees of Norland in 1950.")
    assert updated.id == d4.id and updated.created_at == d4.created_at and updated.updated_at
    assert "Norland" in updated.keywords and updated.links  # it now reads like the tree notes
    changes = {change.field: change for change in memory.history(d4.id)}
    assert changes["text"].old == ORCHARD[5][1] and changes["text"].changed_by == "update"
    assert memory.query("Who planted pear trees in Norland?", k=1)[0].id == d4.id
    restored = memory.revert(changes["text"].id)
    assert restored.field == "text" and memory.get(d4.id).text == ORCHARD[5][1]
    assert memory.update(d4.id, ORCHARD[5][1]) == memory.get(d4.id)  # no change: nothing written


def test_evolution_changes_neighbours_tags_with_history_and_revert(open_memory):
    memory = open_memory(hippograph.Config(link_threshold=0.5, evolve_notes=True))
    first = memory.add("Brightwater Labs makes tempered glass for greenhouses.")
    for text in ("Brightwater Labs hired ten chemists.", "Brightwater Labs opened a plant in Norland."):
        memory.add(text)
    assert memory.get(first.id).tags == ()
    newer = memory.add("Brightwater Labs makes tempered glass for greenhouses and for ships.")
    assert newer.tags == ("brightwater labs",) and first.id in [link.note_id for link in newer.links]
    evolved = memory.get(first.id)
    assert evolved.tags == ("brightwater labs",)
    [change] = [c for c in memory.history(first.id) if c.changed_by == "evolution"]
    assert (change.field, change.old, change.new, change.source_note) == ("tags", (), ("brightwater labs",), newer.id)
    reverted = memory.revert(change.id)
    assert reverted.changed_by == "revert" and memory.get(first.id).tags == ()
    with pytest.raises(hippograph.StoreError, match="changed again"):
        memory.revert(change.id)  # its effect is undone already


def test_evolution_is_off_by_default(open_memory):
    memory = open_memory(hippograph.Config(link_threshold=0.5))
    first = memory.add("Brightwater Labs makes tempered glass for greenhouses.")
    for text in (
        "Brightwater Labs hired ten chemists.",
        "Brightwater Labs opened a plant in Norland.",
        "Brightwater Labs makes tempered glass for greenhouses and for ships.",
    ):
        memory.add(text)
    assert memory.get(first.id).tags == () and memory.history(first.id) == []


def test_a_later_exclusive_fact_ends_the_earlier_one_and_as_of_sees_it(open_memory):
    memory = open_memory()
    paris = memory.add("Mira Holt lives in Paris.", timestamp="2020-01-01")
    berlin = memory.add("Mira Holt lives in Berlin.", timestamp="2022-06-01")
    facts = {fact.object: fact for fact in memory.facts("Mira Holt")}
    assert facts["Paris"].valid_to == "2022-06-01T00:00:00+00:00" and facts["Berlin"].valid_to is None
    assert [f.object for f in memory.facts("Mira Holt", as_of="2021-03-01")] == ["Paris"]
    assert [f.object for f in memory.facts("Mira Holt", as_of="2023-01-01")] == ["Berlin"]
    assert [h.id for h in memory.query("Where does Mira Holt live?", k=5, as_of="2021-03-01")] == [paris.id]
    assert {h.id for h in memory.query("Where does Mira Holt live?", k=5)} == {paris.id, berlin.id}
    memory.delete_note(berlin.id)  # the later fact is gone: the earlier one holds again
    assert [(f.object, f.valid_to) for f in memory.facts("Mira Holt")] == [("Paris", None)]


def test_facts_of_other_relations_keep_holding(open_memory):
    memory = open_memory()
    memory.add("Mira Holt visited Paris.", timestamp="2020-01-01")
    memory.add("Mira Holt visited Berlin.", timestamp="2022-06-01")
    assert all(fact.valid_to is None for fact in memory.facts("Mira Holt"))
    assert len(memory.facts("Mira Holt", as_of="2023-01-01")) == 2


def test_since_and_until_keep_notes_of_a_time_window(open_memory):
    memory = open_memory()
    old = memory.add("The harbour of Veloria froze over.", timestamp="2019-01-10")
    new = memory.add("The harbour of Veloria flooded.", timestamp="2024-03-02")
    assert [h.id for h in memory.query("Veloria harbour", k=5, since="2020-01-01")] == [new.id]
    assert [h.id for h in memory.query("Veloria harbour", k=5, until="2020-01-01", method="dense")] == [old.id]
    assert memory.query("Veloria harbour", k=5, since="2025-01-01") == []
    assert {h.time for h in memory.query("Veloria harbour", k=5)} == {old.created_at, new.created_at}


def test_bad_notes_are_refused_and_store_nothing(open_memory, tmp_path):
    memory = open_memory()
    kept = memory.add("Mira Holt lives in Paris.", id="kept")
    doc = tmp_path / "long.txt"
    doc.write_text(" ".join(["Veloria is a hill town in Norland."] * 80), encoding="utf-8")
    memory.ingest(doc, progress=False)
    bad_calls = [
        (hippograph.SourceError, lambda: memory.add("   ")),
        (hippograph.SourceError, lambda: memory.add("x" * 100_001)),
        (hippograph.SourceError, lambda: memory.add("fine", timestamp="yesterday")),
        (hippograph.SourceError, lambda: memory.add("fine", metadata={"when": object()})),
        (hippograph.SourceError, lambda: memory.add("fine", namespace="")),
        (hippograph.SourceError, lambda: memory.add("Mira Holt lives in Rome.", id="kept")),
        (hippograph.SourceError, lambda: memory.update(kept.id, "")),
        (hippograph.DocumentNotFound, lambda: memory.update("no-such-note", "text")),
        (hippograph.DocumentNotFound, lambda: memory.history("no-such-note")),
        (hippograph.DocumentNotFound, lambda: memory.revert(12345)),
        (hippograph.StoreError, lambda: memory.delete_note(memory.document("long.txt").passage_ids[0])),
        (hippograph.QueryError, lambda: memory.query("Paris", since="last week")),
    ]
    before = memory.stats()
    for error, call in bad_calls:
        with pytest.raises(error):
            call()
    assert memory.stats() == before and memory.get(kept.id) == kept
    assert memory.add("Mira Holt lives in Paris.", id="kept") == kept  # the same content again: no change


def test_links_worked_out_beside_the_write_are_those_of_a_linker_without_a_thread(open_memory, monkeypatch):
    threaded = open_memory(LINKED, name="threaded")
    for note_id, text in ORCHARD:
        threaded.ingest([hippograph.Document(text=text, id=note_id)], progress=False)
    assert threaded._ingestor()._link_worker._threads  # the links were worked out in the thread
    threadless = NoteLinker.__init__
    monkeypatch.setattr(
        NoteLinker, "__init__", lambda self, store, config, judge, worker: threadless(self, store, config, judge)
    )
    inline = open_memory(LINKED, name="inline")
    for note_id, text in ORCHARD:
        inline.ingest([hippograph.Document(text=text, id=note_id)], progress=False)
    stored = "SELECT a, b, kind, weight FROM links ORDER BY a, b"
    assert rows(threaded, stored) == rows(inline, stored) and len(rows(inline, stored)) >= 4


def test_a_linking_thread_that_fails_rolls_its_batch_back_and_the_next_ingest_links_as_usual(open_memory, monkeypatch):
    memory = open_memory(LINKED)
    memory.ingest([hippograph.Document(text=text, id=note_id) for note_id, text in ORCHARD[:3]], progress=False)
    before = rows(memory, "SELECT COUNT(*) FROM passages"), rows(memory, "SELECT a, b FROM links ORDER BY a, b")

    def fail(*args, **kwargs):
        raise MemoryError("the linking thread ran out of memory")

    monkeypatch.setattr(NeighbourIndex, "link", fail)
    rest = [hippograph.Document(text=text, id=note_id) for note_id, text in ORCHARD[3:]]
    with pytest.raises(MemoryError, match="linking thread"):
        memory.ingest(rest, progress=False)
    assert (
        rows(memory, "SELECT COUNT(*) FROM passages"),
        rows(memory, "SELECT a, b FROM links ORDER BY a, b"),
    ) == before
    monkeypatch.undo()
    memory.ingest(rest, progress=False)
    whole = open_memory(LINKED, name="whole")
    whole.ingest([hippograph.Document(text=text, id=note_id) for note_id, text in ORCHARD[:3]], progress=False)
    whole.ingest(rest, progress=False)
    stored = "SELECT a, b, kind, weight FROM links ORDER BY a, b"
    assert rows(memory, stored) == rows(whole, stored) and rows(memory, "SELECT COUNT(*) FROM passages") == [(6,)]
