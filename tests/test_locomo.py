"""The LoCoMo benchmark: loader, storing turns as notes, recall per category, a run on real data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hippograph import SourceError
from hippograph.eval.locomo import load_locomo, store_conversation
from hippograph.eval.locomo_retrieval import main, recall_by_category

from .conftest import SHARED

LOCOMO = SHARED / "locomo" / "locomo-dev.json"


def small_conversation() -> dict:
    return {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_2_date_time": "9:05 am on 2 June, 2023",
            "session_2": [{"speaker": "Ben", "dia_id": "D2:1", "text": "I adopted a beagle named Pip."}],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "I started pottery classes in Lisbon."},
                {"speaker": "Ben", "dia_id": "D1:2", "text": "Look at this!", "blip_caption": "a photo of a red kite"},
            ],
            "session_3_date_time": "4:00 pm on 9 June, 2023",  # a date without a session: skipped
        },
        "qa": [
            {"question": "Where does Ana take pottery?", "answer": "Lisbon", "evidence": ["D1:1"], "category": 4},
            {
                "question": "What did Ben show, and which dog did he adopt?",
                "answer": "a kite; Pip",
                "evidence": ["D1:2; D2:1", "D7:3"],
                "category": 1,
            },  # two ids in one entry, one naming no turn
            {"question": "When did Ben adopt Pip?", "answer": 2023, "evidence": ["D:2:1"], "category": 2},
            {
                "question": "What is Ana's cat called?",
                "adversarial_answer": "Mochi",
                "evidence": ["D1:1"],
                "category": 5,
            },
            {"question": "Why?", "answer": "no reason", "evidence": ["unknown"], "category": 3},
        ],
    }


def write_locomo(path, conversations: list) -> str:
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return str(path)


def test_turns_carry_session_times_and_captions_and_bad_evidence_is_dropped(tmp_path, caplog):
    [conversation] = load_locomo(write_locomo(tmp_path / "l.json", [small_conversation()]))
    assert [t.dia_id for t in conversation.turns] == ["D1:1", "D1:2", "D2:1"]
    assert conversation.turns[0].time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert conversation.turns[2].time == datetime(2023, 6, 2, 9, 5, tzinfo=UTC)
    assert conversation.turns[0].note == "Ana: I started pottery classes in Lisbon."
    assert conversation.turns[1].note == "Ben: Look at this! [shares a photo: a photo of a red kite]"
    questions = {q.category: q for q in conversation.questions}
    assert sorted(questions) == [1, 2, 4, 5]  # the category 3 question has no valid evidence
    assert questions[1].evidence == ("D1:2", "D2:1")
    assert questions[2].evidence == ("D2:1",) and questions[2].answer == "2023"
    assert questions[5].answer == "Mochi"
    assert (conversation.dropped_evidence, conversation.skipped_questions) == (2, 1)
    assert "conv-x: dropped 2 evidence id(s)" in caplog.text and "skipped 1 question(s)" in caplog.text


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such LoCoMo file"),
        ("[{", "invalid JSON"),
        ('{"sample_id": "c"}', "expected a non-empty JSON list of conversations"),
        ('[{"sample_id": "c", "conversation": {}}]', "conversation 0: expected an object with"),
    ],
)
def test_unreadable_files_are_errors_that_say_why(tmp_path, content, message):
    path = tmp_path / "l.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        load_locomo(path)


def test_an_unparseable_session_date_names_its_key(tmp_path):
    record = small_conversation()
    record["conversation"]["session_2_date_time"] = "around noon"
    with pytest.raises(SourceError, match="conv-x session_2_date_time: 'around noon' is not a date"):
        load_locomo(write_locomo(tmp_path / "l.json", [record]))
    del record["conversation"]["session_2_date_time"]
    with pytest.raises(SourceError, match="session_2_date_time: missing"):
        load_locomo(write_locomo(tmp_path / "l.json", [record]))


def test_stored_turns_are_notes_found_by_dia_id_in_their_namespace(tmp_path, make_memory):
    [conversation] = load_locomo(write_locomo(tmp_path / "l.json", [small_conversation()]))
    memory = make_memory()
    store_conversation(memory, conversation, "conv-x")
    stored = memory.document("D1:2", namespace="conv-x")
    note = memory.get(stored.passage_ids[0], namespace="conv-x")
    assert stored.metadata == {"speaker": "Ben"} and note.created_at == "2023-05-08T13:56:00+00:00"
    [hit] = memory.query("Which dog did Ben adopt?", k=1, method="dense", namespace="conv-x")
    assert hit.document_id == "D2:1" and hit.text == "Ben: I adopted a beagle named Pip."
    assert not memory.query("Which dog did Ben adopt?", k=1, namespace="other")


def test_recall_is_averaged_per_category_and_overall_leaves_out_adversarial():
    rows = [
        {"type": "1 multi-hop", "supporting_ids": ["a", "b"], "dense": ["a", "x", "b"]},
        {"type": "4 single-hop", "supporting_ids": ["c"], "dense": ["c"]},
        {"type": "4 single-hop", "supporting_ids": ["d"], "dense": ["d", "x"]},
        {"type": "5 adversarial", "supporting_ids": ["e"], "dense": ["e"]},
    ]
    recall = recall_by_category(rows, ("dense",), [1, 3])
    assert list(recall) == [
        "1 multi-hop",
        "2 temporal",
        "3 open-domain",
        "4 single-hop",
        "overall 1-4",
        "5 adversarial",
    ]
    assert recall["1 multi-hop"] == {"questions": 1, "dense R@1": 0.5, "dense R@3": 1.0}
    assert recall["2 temporal"] == {"questions": 0, "dense R@1": None, "dense R@3": None}
    assert recall["4 single-hop"] == {"questions": 2, "dense R@1": 1.0, "dense R@3": 1.0}
    # over questions, not over categories (that would give 0.75)
    assert recall["overall 1-4"] == {"questions": 3, "dense R@1": pytest.approx(2.5 / 3), "dense R@3": 1.0}
    assert recall["5 adversarial"] == {"questions": 1, "dense R@1": 1.0, "dense R@3": 1.0}


def test_reuse_skips_conversations_the_store_holds(tmp_path, capsys):
    data = write_locomo(tmp_path / "l.json", [small_conversation()])
    out = tmp_path / "out.json"
    store = str(tmp_path / "s")
    assert main(["--data", data, "--store", store, "--k", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["timing"]["ingested"] == ["conv-x"]
    assert main(["--data", data, "--store", store, "--reuse", "--k", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["timing"]["ingested"] == []
    assert results["recall"]["4 single-hop"]["dense R@1"] == 1.0  # the stored notes are still there
    assert "(0 ingested)" in capsys.readouterr().out
    assert main(["--data", data, "--reuse"]) == 1
    assert "--reuse needs --store DIR" in capsys.readouterr().err


@pytest.mark.skipif(not LOCOMO.exists(), reason="needs ../shared/datasets/locomo (present in CI)")
def test_eval_locomo_on_the_first_real_conversation(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["--data", str(LOCOMO), "--limit", "1", "--store", str(tmp_path / "s"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hippograph R@10" in printed and "overall 1-4" in printed and "5 adversarial" in printed
    results = json.loads(out.read_text())
    assert results["config"]["conversations"] == ["conv-26"] and results["config"]["turns"] == 419
    assert results["evidence"] == {"dropped_ids": 0, "skipped_questions": 2}
    recall = results["recall"]
    assert [recall[c]["questions"] for c in recall] == [32, 37, 11, 70, 150, 47]
    for method in ("dense", "hippograph"):
        assert 0.3 < recall["overall 1-4"][f"{method} R@5"] <= recall["overall 1-4"][f"{method} R@10"] <= 1
