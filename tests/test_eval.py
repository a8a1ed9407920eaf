"""The retrieval benchmark: metric, question loader, and a whole run on the sample corpus."""

from __future__ import annotations

import json

import pytest

import hippograph
from hippograph import SourceError
from hippograph.cli import main
from hippograph.eval import load_questions, recall_at_k


def test_recall_at_k_counts_distinct_relevant_ids_in_the_top_k():
    assert recall_at_k(["a", "b", "c"], ["a", "c"], 1) == 0.5
    assert recall_at_k(["a", "b", "c"], ["a", "c"], 3) == 1.0
    assert recall_at_k(["a", "a", "c"], ["a", "c"], 2) == 1.0  # a repeated id takes one place
    assert recall_at_k(["x"], [], 5) == 0.0


def test_questions_load_and_bad_lines_are_named(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"id": "q1", "question": "Who?", "answers": ["A"], "supporting_ids": ["d1", 2]})
        + "\n"
        + json.dumps({"id": "q2", "question": "What?"})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match="line 2: 'supporting_ids'"):
        load_questions(path)
    path.write_text(json.dumps({"id": "q1", "question": "Who?", "supporting_ids": ["d1", 2]}) + "\n", encoding="utf-8")
    [question] = load_questions(path)
    assert question.supporting_ids == ("d1", "2") and question.answers == ()


def test_eval_retrieval_on_the_sample_corpus_writes_the_promised_json(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "q1",
            "question": "Where was the founder of Brightwater Labs born?",
            "answers": ["Veloria"],
            "supporting_ids": ["sample-01", "sample-02"],
        },
        {
            "id": "q2",
            "question": "Which club did the husband of Ida Marsh play for?",
            "answers": ["Harbor City FC"],
            "supporting_ids": ["sample-18", "sample-19", "sample-20"],
        },
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.json"
    code = main(
        [
            "eval",
            "retrieval",
            "--corpus",
            str(hippograph.sample_corpus()),
            "--questions",
            str(questions),
            "--methods",
            "dense,hippograph",
            "--k",
            "2,5",
            "--store",
            str(tmp_path / "s"),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "recall@2" in printed and "hippograph" in printed
    result = json.loads(out.read_text())
    assert set(result["methods"]) == {"dense", "hippograph"}
    assert set(result["methods"]["dense"]) == {"recall@2", "recall@5"}
    assert len(result["per_question"]) == 2
    assert {"index_s", "query_p50_ms", "query_p95_ms"} <= set(result["timing"])
    assert result["config"]["extractor"] == "spacy-1"
    # q1: the graph finds both supporting passages in its top 5, dense only the first
    assert result["per_question"][0]["hippograph"][:5].count("sample-02") == 1
    assert result["methods"]["hippograph"]["recall@5"] > result["methods"]["dense"]["recall@5"]


def test_eval_retrieval_rejects_unknown_methods(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q", "question": "x?", "supporting_ids": ["a"]}) + "\n", encoding="utf-8")
    code = main(
        [
            "eval",
            "retrieval",
            "--corpus",
            str(hippograph.sample_corpus()),
            "--questions",
            str(questions),
            "--methods",
            "splade",
            "--store",
            str(tmp_path / "s"),
        ]
    )
    assert code == 1
    assert "unknown method(s) splade" in capsys.readouterr().err


def test_config_overrides_are_parsed_and_checked():
    from hippograph.eval.bench import config_from

    config = config_from(["damping=0.5", "synonym_threshold=null", "fact_weight=0.1"])
    assert (config.damping, config.synonym_threshold, config.fact_weight) == (0.5, None, 0.1)
    with pytest.raises(hippograph.HippographError, match="Config field"):
        config_from(["dampning=0.5"])
    with pytest.raises(hippograph.ConfigError, match="damping"):
        config_from(["damping=2"])
    assert config_from(["ppr_solver=local"]).ppr_solver == "local"
    with pytest.raises(hippograph.ConfigError, match="ppr_solver must be one of auto, global, local"):
        config_from(["ppr_solver=nearby"])


def test_exact_match_and_f1_follow_squad_normalisation():
    from hippograph.eval.metrics import exact_match, token_f1

    assert exact_match("The Leyton.", ["Leyton"]) == 1.0
    assert exact_match("Leyton, London", ["Leyton"]) == 0.0
    assert token_f1("Leyton, London", ["Leyton"]) == pytest.approx(2 / 3)
    assert token_f1("in 1998", ["nineteen ninety-eight", "1998"]) == pytest.approx(2 / 3)
    assert token_f1("", ["x"]) == 0.0 and exact_match("x", []) == 0.0


def test_eval_qa_scores_llm_answers_and_writes_json(tmp_path, capsys, monkeypatch):
    from .conftest import write_jsonl
    from .scripted_llm import KNOWN, Reply, ScriptedLLM, good_openie

    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": f"d{n}", "text": t} for n, t in enumerate(KNOWN)])
    questions = write_jsonl(
        tmp_path / "q.jsonl",
        [
            {
                "id": "q1",
                "question": "Where was the founder of Brightwater Labs born?",
                "answers": ["Kessel"],
                "supporting_ids": ["d0", "d1"],
            },
            {
                "id": "q2",
                "question": "Which river does Kessel lie on?",
                "answers": ["the Aun", "Aun river"],
                "supporting_ids": ["d2"],
            },
        ],
    )

    def respond(body, number):
        prompt = body["messages"][-1]["content"]
        if not prompt.startswith("Passages:"):
            return good_openie(body)
        return Reply(
            json.dumps(
                {
                    "answer": "Kessel" if "Brightwater" in prompt.split("Question:")[1] else "Aun river, Kessel",
                    "citations": [1],
                }
            )
        )

    monkeypatch.setenv("HIPPOGRAPH_LLM_CACHE", str(tmp_path / "calls.sqlite"))
    out = tmp_path / "qa.json"
    with ScriptedLLM(respond) as server:
        args = [
            "eval",
            "qa",
            "--corpus",
            str(corpus),
            "--questions",
            str(questions),
            "--store",
            str(tmp_path / "s"),
            "--extractor",
            "llm",
            "--llm-url",
            server.url,
            "--llm-model",
            "scripted",
            "-k",
            "2",
            "--json",
            str(out),
        ]
        assert main(args) == 0
    printed = capsys.readouterr().out
    assert "EM" in printed and "hippograph" in printed and "2 questions" in printed
    results = json.loads(out.read_text())
    for method in ("dense", "hippograph"):
        assert results["methods"][method]["em"] == 0.5  # q1 exact, q2 partly right
        assert results["methods"][method]["f1"] == pytest.approx((1 + 0.8) / 2)
        assert results["per_question"][0][method]["cited"]
    assert results["config"]["k"] == 2 and results["config"]["extractor"] == "llm:scripted:openie-2"
