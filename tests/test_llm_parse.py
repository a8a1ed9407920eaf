"""Reading model output: the tolerant JSON parser, output validators, LLM settings."""

from __future__ import annotations

import pytest

from hippograph.answer.answerer import answer_and_citations
from hippograph.errors import ConfigError, LLMNotConfigured, LLMOutputError
from hippograph.extract.llm import entity_list, triple_list
from hippograph.llm import LLMSettings
from hippograph.llm.parse import parse_json


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ('```json\n{"a": "x"}\n```', {"a": "x"}),
        ('Here you go: {"a": "b}"} and that is all.', {"a": "b}"}),
        ("{'a': 'it\\'s', 'b': True, 'c': None,}", {"a": "it's", "b": True, "c": None}),
        ('[["x", "y", "z"]]', [["x", "y", "z"]]),
        ('{"name": "Ölberg – \\"quoted\\""}', {"name": 'Ölberg – "quoted"'}),
        ("{'a': 'caf\\u00e9', 'b': [1, 2,], }", {"a": "café", "b": [1, 2]}),
        ('{"e": ["\\ud83d\\ude00 Fan Club",]}', {"e": ["\U0001f600 Fan Club"]}),  # a surrogate pair, fallback path
        ('{"e": "lone \\ud83d half"}', {"e": "lone \ufffd half"}),
    ],
)
def test_json_is_found_in_untidy_output(text, expected):
    assert parse_json(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "no json here",
        '{"a": [1, 2',
        "{'a': __import__('os')}",
        '{"entities": [Zürich]}',
        "[" * 5000 + "]" * 5000,
        '{"n": ' + "1" * 5000 + "}",
    ],
)
def test_unreadable_output_is_an_error_never_evaluated(text):
    with pytest.raises(LLMOutputError):
        parse_json(text)


def test_validators_keep_what_has_the_right_shape():
    assert entity_list({"entities": [" Mira  Holt ", "Mira Holt", 3, "...", ""]}) == ["Mira Holt"]
    assert entity_list(["Kessel"]) == ["Kessel"]
    assert triple_list(
        {
            "triples": [
                {"subject": "A", "relation": "r", "object": "B"},
                ["C", "s", "D"],
                ["too", "short"],
                {"subject": "E"},
                "x",
            ]
        }
    ) == [["A", "r", "B"], ["C", "s", "D"]]
    for wrong in ({"facts": []}, {"triples": [["A", "r"], {"name": "X"}]}):
        with pytest.raises(LLMOutputError):
            triple_list(wrong)
    with pytest.raises(LLMOutputError):  # only placeholders: a failure, not "no entities"
        entity_list({"entities": ["...", ""]})
    assert triple_list({"triples": []}) == [] and entity_list({"entities": []}) == []
    cited = {"answer": " 1998 ", "citations": [2, "[1]", 2, 7, 0, -1, 3.0, True, "2 and 3"]}
    assert answer_and_citations(cited, 3) == ("1998", [2, 1, 3])
    for wrong in ({"answer": ""}, {"answer": "..."}, {"answer": True}, ["1998"]):
        with pytest.raises(LLMOutputError):
            answer_and_citations(wrong, 3)


def test_settings_come_from_the_environment_and_arguments_win(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("HIPPOGRAPH_LLM_MODEL", "env-model")
    monkeypatch.setenv("HIPPOGRAPH_LLM_CACHE", str(tmp_path / "c.sqlite"))
    settings = LLMSettings.from_env(model="arg-model", max_concurrency=None)
    assert (settings.base_url, settings.model, settings.max_concurrency) == ("http://127.0.0.1:9/v1", "arg-model", 4)
    assert settings.cache_file() == tmp_path / "c.sqlite"
    assert "sk-secret" not in LLMSettings(api_key="sk-secret", model="m").describe()
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMNotConfigured, match="no LLM endpoint"):
        LLMSettings.from_env().require()
    with pytest.raises(LLMNotConfigured, match="no LLM model"):
        LLMSettings(base_url="http://x/v1").require()
    for bad in (dict(timeout=0), dict(max_concurrency=0), dict(max_retries=-1), dict(backoff=float("nan"))):
        with pytest.raises(ConfigError):
            LLMSettings(**bad)
