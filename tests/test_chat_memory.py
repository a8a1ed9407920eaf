"""Chat turns as notes: the speaker a turn's metadata names is an entity of the note, so a question
naming a speaker seeds that speaker's turns; the relative times a turn names are resolved against
its day, kept on the note, found by the words of that day, and favoured when a question asks when."""

from __future__ import annotations

from datetime import date

import pytest

from hippograph import Config, Document, Memory
from hippograph.time_expressions import time_mentions

TURNS = [
    ("Caroline", "I went to a pottery class yesterday and made a bowl."),
    ("Melanie", "I went to a pottery class last month, it was fun."),
    ("Melanie", "My kids love painting with me on weekends."),
    ("Caroline", "I am reading a book about adoption agencies."),
]


@pytest.fixture
def chat(tmp_path, embedder, extractor):
    """A memory of the turns (the speakers' names in no text), seeded by the graph alone: no
    passage or lexical seeds, so only the entities the question names carry weight."""
    config = Config(passage_weight=0, lexical_weight=0, query_entity_weight=1, link_threshold=None)
    with Memory(tmp_path / "chat", config, embedder=embedder, extractor=extractor) as memory:
        for number, (speaker, text) in enumerate(TURNS):
            memory.add(text, id=f"t{number}", metadata={"speaker": speaker})
        yield memory


def test_a_speaker_question_seeds_that_speakers_turns(chat):
    hits = chat.query("What did Caroline make at the pottery class?", k=2)
    assert hits[0].explanation.question_entities == ("Caroline",)
    assert {hit.document_id for hit in hits} == {"t0", "t3"}  # her turns, not Melanie's pottery class


def test_a_speaker_is_an_entity_of_every_turn_it_said(chat):
    graph = chat.to_networkx()
    caroline = next(n for n, data in graph.nodes(data=True) if data.get("name") == "Caroline")
    turns = {graph.nodes[p]["document"] for p in graph.predecessors(caroline) if graph.nodes[p]["kind"] == "passage"}
    turns |= {graph.nodes[p]["document"] for p in graph.successors(caroline) if graph.nodes[p]["kind"] == "passage"}
    assert turns == {"t0", "t3"}


def test_a_changed_turn_keeps_its_speaker(chat):
    chat.update(chat.document("t3").passage_ids[0], "I am reading a novel about lighthouses.")
    hits = chat.query("What is Caroline reading?", k=2)
    assert {hit.document_id for hit in hits} == {"t0", "t3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I went to the support group yesterday.", [("yesterday", "2023-05-07", "2023-05-07", "7 May 2023")]),
        ("We did it last Friday!", [("last Friday", "2023-05-05", "2023-05-05", "5 May 2023")]),
        ("I painted that two weeks ago.", [("two weeks ago", "2023-04-24", "2023-04-30", "the week of 24 April 2023")]),
        ("We go camping next month", [("next month", "2023-06-01", "2023-06-30", "June 2023")]),
        (
            "See you tomorrow, and next year",
            [("tomorrow", "2023-05-09", "2023-05-09", "9 May 2023"), ("next year", "2024-01-01", "2024-12-31", "2024")],
        ),
        ("We may go, we do love the lake in May.", []),
        ("The last time we met was fun.", []),
    ],
)
def test_relative_times_are_resolved_against_the_turns_day(text, expected):
    said = date(2023, 5, 8)  # a Monday
    assert [(m.text, m.start, m.end, m.words) for m in time_mentions(text, said)] == expected


def test_a_turn_keeps_its_times_and_is_found_by_the_day_they_name(tmp_path, embedder, extractor):
    with Memory(tmp_path / "chat", embedder=embedder, extractor=extractor) as memory:
        note = memory.add("I went to the support group yesterday.", timestamp="2023-05-08T13:56:00", id="d1")
        memory.add("I went hiking with friends.", timestamp="2023-05-08T14:00:00", id="d2")
        memory.ingest(Document("Wikipedia says it rained yesterday.", id="undated"), progress=False)
        assert [str(m) for m in note.times] == ["yesterday = 7 May 2023"]
        assert "times: yesterday = 7 May 2023" in str(memory.get(note.id))
        assert note.to_dict()["times"] == [
            {"text": "yesterday", "start": "2023-05-07", "end": "2023-05-07", "words": "7 May 2023"}
        ]
        assert memory.get(memory.document("undated").passage_ids[0]).times == ()  # no time given: nothing to resolve
        assert [hit.document_id for hit in memory.query("What happened on 7 May?", method="bm25")] == ["d1"]
        memory.update(note.id, "I went to the support group last month.")
        assert [str(m) for m in memory.get(note.id).times] == ["last month = April 2023"]
        assert memory.query("What happened on 7 May?", method="bm25") == []  # the old day left the index
        assert [hit.document_id for hit in memory.query("What happened in April?", method="bm25")] == ["d1"]


def test_a_question_that_asks_when_favours_notes_that_name_a_time(tmp_path, embedder, extractor):
    question = "When did Caroline go to the support group?"
    texts = {
        "plain": "Caroline went to the support group.",
        "dated": "Caroline joined a support group meeting yesterday.",
    }
    order = {}
    for weight in (0.0, 1.0):
        with Memory(
            tmp_path / str(weight), Config(dated_weight=weight), embedder=embedder, extractor=extractor
        ) as memory:
            for id, text in texts.items():
                memory.add(text, id=id, timestamp="2023-05-08T13:56:00")
            order[weight] = [hit.document_id for hit in memory.query(question, k=2)]
            assert [hit.document_id for hit in memory.query("What did Caroline go to?", k=2)][0] == "plain"
    assert order == {0.0: ["plain", "dated"], 1.0: ["dated", "plain"]}
