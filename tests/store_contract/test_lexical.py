"""The lexical channel on both stores: BM25 over the notes' words kept by every write and delete
(SQLite: the store's FTS5 tables; a Bolt server, which keeps none here: the client's index,
brought up to date by the change log), one namespace never seeing or scoring another's."""

from __future__ import annotations

import dataclasses

import pytest

from hippograph.store.neo4j import Neo4jStore

from ..conftest import EVERY_RECORD

# The channel reads only the best match: a deleted note left in the index would hide the others.
BEST_MATCH_ONLY = dataclasses.replace(EVERY_RECORD, lexical_matches=1)


def _found(memory, text: str, namespace: str | None = None) -> list[str]:
    return [hit.document_id for hit in memory.query(text, k=5, method="bm25", namespace=namespace)]


def test_deleted_and_changed_notes_leave_the_lexical_index(open_memory):
    memory = open_memory(config=BEST_MATCH_ONLY)
    dog = memory.add("Caroline adopted a greyhound named Biscuit.", id="dog")
    memory.add("A lighthouse at dawn.", id="painting")
    assert _found(memory, "Who is Biscuit?") == ["dog"]
    assert _found(memory, "lighthouses") == ["painting"]  # stemmed: "lighthouses" finds "lighthouse"

    memory.update(dog.id, "Caroline adopted a collie named Pepper.")
    assert _found(memory, "Who is Biscuit?") == []
    assert _found(memory, "Who is Pepper?") == ["dog"]
    memory.delete("painting")
    assert _found(memory, "lighthouse") == []
    memory.add("Melanie sailed past the old lighthouse.", id="sailing")
    assert _found(memory, "lighthouse") == ["sailing"]

    other = open_memory(config=BEST_MATCH_ONLY)  # another connection to the same store writes
    other.delete("sailing")
    other.add("Melanie saw a lighthouse from the ferry deck.", id="ferry")
    assert _found(memory, "lighthouse") == ["ferry"]
    other.update(other.document("ferry").passage_ids[0], "Melanie saw a ship from the ferry deck.")
    assert _found(memory, "lighthouse") == []
    assert _found(memory, "ship") == ["ferry"]


def test_a_namespace_neither_sees_nor_scores_another(open_memory):
    memory = open_memory()
    memory.add("Ida repairs telescopes in Kessel.", id="ida", namespace="alice")
    memory.add("Ida sells maps in Kessel.", id="maps", namespace="alice")
    before = memory.query("telescopes in Kessel", method="bm25", namespace="alice")
    for n in range(6):
        memory.add(f"Telescopes number {n} are sold in Kessel.", id=f"t{n}", namespace="bob")
    after = memory.query("telescopes in Kessel", method="bm25", namespace="alice")
    assert [(h.document_id, h.score) for h in after] == [(h.document_id, h.score) for h in before]
    assert [h.document_id for h in after] == ["ida", "maps"]
    assert len(_found(memory, "telescopes", namespace="bob")) == 5


@pytest.mark.parametrize(
    "question",
    ['"', 'NEAR(a b) OR * AND body:"x"', "what is the", "Zürich ^caf* -- ; DROP TABLE passages", "\x00\u202e"],
)
def test_any_question_text_is_taken_as_words(open_memory, question):
    memory = open_memory()
    memory.add("Ida drinks coffee in a Zurich cafe.", id="ida")
    found = _found(memory, question)
    assert found == (["ida"] if "Zürich" in question else [])  # accents folded; operators and stop words match nothing
    for method in ("hybrid", "hippograph"):
        assert [h.document_id for h in memory.query(question, method=method)] == ["ida"]
    assert memory.stats().passages == 1


@pytest.mark.parametrize(("common", "expected"), [(1, ["scope"]), (3, ["scope", "maps", "ida"])])
def test_a_word_in_more_notes_than_lexical_common_notes_is_left_out(open_memory, common, expected):
    memory = open_memory(config=dataclasses.replace(EVERY_RECORD, lexical_common_notes=common))
    memory.add("Ida lives in Kessel.", id="ida")
    memory.add("Maps of Kessel.", id="maps")
    memory.add("A telescope in Kessel.", id="scope")
    assert _found(memory, "Which telescope is in Kessel?") == expected


def test_a_turn_is_found_by_the_day_its_relative_time_names_and_kept_in_its_window(open_memory):
    memory = open_memory()
    note = memory.add("I went to the support group yesterday.", id="d1", timestamp="2023-05-08T13:56:00")
    memory.add("I went hiking with friends.", id="d2", timestamp="2023-05-08T14:00:00")
    assert [str(m) for m in memory.get(note.id).times] == ["yesterday = 7 May 2023"]
    assert _found(memory, "What happened on 7 May?") == ["d1"]
    # said on 8 May, it names 7 May: a window of 7 May holds it (and no other note)
    in_window = memory.query("What happened?", since="2023-05-07", until="2023-05-07T23:59:59")
    assert [hit.document_id for hit in in_window] == ["d1"]
    assert [h.document_id for h in memory.query("What happened?", since="2023-05-08")] in (["d1", "d2"], ["d2", "d1"])


def test_a_query_as_of_a_time_leaves_later_notes_findable_by_their_words(open_memory):
    memory = open_memory()
    memory.add("Ida repairs telescopes.", id="old", timestamp="2023-01-01T00:00:00")
    memory.add("Ben repairs telescopes too.", id="new", timestamp="2024-01-01T00:00:00")
    then = memory.query("telescopes", method="bm25", as_of="2023-06-01")
    assert [hit.document_id for hit in then] == ["old"]
    assert sorted(_found(memory, "telescopes")) == ["new", "old"]  # the first query of the namespace was as of then


def test_a_graph_written_before_notes_had_times_reads_and_exports(open_memory, tmp_path):
    memory = open_memory()
    note = memory.add("I went to the support group yesterday.", id="d1", timestamp="2023-05-08T13:56:00")
    store = memory._store  # a note as an earlier hippograph wrote it: without `times`
    if isinstance(store, Neo4jStore):
        store._write(lambda records: records._run("MATCH (n:Passage) REMOVE n.times"))
    else:
        store._write(lambda records: records._db.execute("UPDATE passages SET times = '[]'"))
    assert memory.get(note.id).times == ()
    assert memory.export(tmp_path / "export.jsonl")["passage"] == 1


def _question_entities(memory, question: str) -> set[str]:
    return {name for hit in memory.query(question, k=3) for name in hit.explanation.question_entities}


@pytest.mark.parametrize(("rare", "expected"), [(0, set()), (1, {"Biscuit"}), (2, {"Biscuit", "Kessel"})])
def test_a_question_without_capitals_takes_its_rare_words_for_names(open_memory, rare, expected):
    memory = open_memory(config=dataclasses.replace(EVERY_RECORD, rare_word_notes=rare))
    memory.add("Caroline adopted a greyhound named Biscuit.", id="dog")
    memory.add("Caroline painted a lighthouse in Kessel.", id="painting")
    memory.add("Melanie went sailing near Kessel.", id="sailing")
    # "biscuit" is in one note, "kessel" in two, "caroline" in two (but a capital finds her first)
    assert _question_entities(memory, "where did biscuit and kessel come from?") == expected
    assert _question_entities(memory, "Where did Caroline and biscuit go?") == {"Caroline"}


def test_a_question_whose_capitals_name_an_entity_reads_no_rare_words(open_memory, monkeypatch):
    memory = open_memory()
    memory.add("Caroline adopted a greyhound named Biscuit.", id="dog")
    asked = []
    rare_terms = memory._store.rare_terms
    monkeypatch.setattr(memory._store, "rare_terms", lambda *args: asked.append(args) or rare_terms(*args))
    memory.query("Where does Biscuit sleep?")
    assert asked == []  # the capitalised name was enough: the index is not asked
    memory.query("where does biscuit sleep?")
    assert len(asked) == 1
