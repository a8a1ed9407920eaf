"""Chat turns as notes: the speaker a turn's metadata names is an entity of the note, so a question
naming a speaker seeds that speaker's turns."""

from __future__ import annotations

import pytest

from hippograph import Config, Memory

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
