"""The LLM path against a scripted server over real HTTP: response formats, retries, faults,
the call cache, recorded failures and their retry, the answerer. Stores are real SQLite files,
embeddings come from the real model."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from hippograph import Config, ConfigError, Document, Memory
from hippograph.errors import LLMError, LLMNotConfigured
from hippograph.llm import LLMSettings

from .scripted_llm import KNOWN, Reply, ScriptedLLM, good_openie, is_entity_step, user_text

PASSAGES = list(KNOWN)


def documents(texts=PASSAGES) -> list[Document]:
    return [Document(text=text, id=f"doc-{n}") for n, text in enumerate(texts)]


def settings(server: ScriptedLLM, tmp_path, **changes) -> LLMSettings:
    values = dict(
        base_url=server.url,
        api_key="test",
        model="scripted",
        timeout=2.0,
        max_retries=2,
        backoff=0.01,
        max_concurrency=2,
        cache_path=tmp_path / "llm-calls.sqlite",
    )
    values.update(changes)
    return LLMSettings(**values)


def open_memory(tmp_path, embedder, llm, name="store", config=None) -> Memory:
    return Memory(tmp_path / name, config, embedder=embedder, extractor="llm", llm=llm)


def rows(memory: Memory, query: str) -> list[tuple]:
    with sqlite3.connect(memory.stats().path) as db:
        return db.execute(query).fetchall()


def failures(memory: Memory) -> list[tuple]:
    return rows(memory, "SELECT text, extraction_error FROM passages WHERE extraction_error IS NOT NULL ORDER BY text")


def test_extracts_facts_and_steps_down_from_a_rejected_json_schema(tmp_path, embedder):
    def respond(body, number):
        if body.get("response_format", {}).get("type") == "json_schema":  # as llama.cpp's server does
            return Reply("body.response_format.type: Input should be 'text' or 'json_object'", status=500)
        return good_openie(body)

    with ScriptedLLM(respond) as server:
        with open_memory(tmp_path, embedder, settings(server, tmp_path, max_concurrency=1)) as memory:
            report = memory.ingest(documents(), progress=False)
            assert report.passages == 3 and report.failed == 0
            facts = rows(
                memory,
                "SELECT s.name, f.relation, o.name FROM facts f JOIN entities s ON s.id = f.subject_id "
                "JOIN entities o ON o.id = f.object_id ORDER BY s.name, o.name",
            )
            assert facts == [
                ("Kessel", "lies on", "Aun"),
                ("Mira Holt", "founded", "Brightwater Labs"),
                ("Mira Holt", "was born in", "Kessel"),
            ]
            formats = [r.get("response_format", {}) for r in server.requests]
            assert formats[0]["type"] == "json_schema" and formats[0]["json_schema"]["schema"]["required"] == [
                "entities"
            ]
            assert all(f == {"type": "json_object", "schema": f.get("schema")} and f["schema"] for f in formats[1:])
            assert memory.llm.response_format == "json_object_with_schema"
            assert report.llm_usage.startswith("7 LLM calls, 0 cached, 0 failed")
            assert memory.llm.usage.calls == 7  # one rejected json_schema call, then 2 per passage
            assert memory.llm.usage.prompt_tokens == 6 * 11  # the rejected call reported no usage
        seen = len(server.requests)
        with open_memory(tmp_path, embedder, settings(server, tmp_path), name="second") as memory:  # a new client
            memory.ingest(
                [Document(text="Mira Holt founded Brightwater Labs.", id="new", title="Holt")], progress=False
            )
        assert [r["response_format"]["type"] for r in server.requests[seen:]] == ["json_object", "json_object"], (
            "the cache remembered the form this server takes: no json_schema probe"
        )


def test_reingest_costs_no_calls_even_into_a_new_store(tmp_path, embedder):
    with ScriptedLLM(good_openie) as server:
        llm = settings(server, tmp_path)
        with open_memory(tmp_path, embedder, llm) as memory:
            memory.ingest(documents(), progress=False)
            memory.delete("doc-0")
            again = memory.ingest(documents(), progress=False)
        assert again.added == 1 and again.unchanged == 2
        with open_memory(tmp_path, embedder, llm, name="second") as fresh:
            report = fresh.ingest(documents(), progress=False)
            assert fresh.stats().facts == 3
        assert len(server.requests) == 6, "only the first ingest reaches the server"
        assert report.llm_usage.startswith("0 LLM calls, 6 cached")


def test_rate_limit_is_retried_after_the_servers_delay(tmp_path, embedder):
    def respond(body, number):
        return Reply(status=429, headers={"Retry-After": "0.5"}) if number == 1 else good_openie(body)

    with ScriptedLLM(respond) as server, open_memory(tmp_path, embedder, settings(server, tmp_path)) as memory:
        started = time.monotonic()
        report = memory.ingest(documents(PASSAGES[:1]), progress=False)
        assert time.monotonic() - started >= 0.5, "the client waited as long as the server asked"
        assert report.failed == 0 and memory.stats().facts == 1
        assert len(server.requests) == 3


def test_a_server_error_before_the_first_answer_is_retried_not_taken_as_a_format_refusal(tmp_path, embedder):
    def respond(body, number):  # llama.cpp's server while its model loads
        return Reply("Loading model", status=503) if number <= 2 else good_openie(body)

    llm = settings(server := ScriptedLLM(respond), tmp_path, max_concurrency=1)
    with server, open_memory(tmp_path, embedder, llm) as memory:
        report = memory.ingest(documents(PASSAGES[:1]), progress=False)
        assert report.failed == 0 and memory.llm.response_format == "json_schema"
        assert all(r["response_format"]["type"] == "json_schema" for r in server.requests)


def test_unreachable_endpoint_stops_the_ingest_and_keeps_finished_batches(tmp_path, embedder):
    def respond(body, number):  # the first passage goes through, then the server only rate-limits
        return good_openie(body) if number <= 2 else Reply(status=429)

    config = Config(ingest_batch_size=1)
    with ScriptedLLM(respond) as server:
        llm = settings(server, tmp_path, max_concurrency=1)
        with open_memory(tmp_path, embedder, llm, config=config) as memory:
            with pytest.raises(LLMError, match="rate-limiting"):
                memory.ingest(documents(), progress=False)
            stats = memory.stats()
            assert (stats.documents, stats.passages, stats.facts) == (1, 1, 1)
    with ScriptedLLM(good_openie) as closed:  # started and stopped: nothing listens on its port
        down = settings(closed, tmp_path, max_retries=1)
    with open_memory(tmp_path, embedder, down, config=config) as memory:
        with pytest.raises(LLMError, match="cannot reach the LLM endpoint"):
            memory.ingest(documents(), progress=False)
        stats = memory.stats()
        assert (stats.documents, stats.passages, stats.facts) == (1, 1, 1), "the stored batch is untouched"


@pytest.mark.parametrize(
    "bad",
    [
        Reply("I am sorry, I cannot help with that."),  # prose
        Reply('{"triples": [{"subject": "Mira Holt", "relation": "was born'),  # half JSON
        Reply('{"triples": [{"subject": "Mira Holt", "relation": "was', finish_reason="length"),  # cut at max_tokens
        Reply(status=500),  # a server error that persists
        Reply('{"entities": []}', delay=3.0),  # slower than the client's timeout
    ],
    ids=["garbage", "half-json", "cut-off", "server-error", "timeout"],
)
def test_a_failing_passage_is_recorded_and_retried_later(tmp_path, embedder, bad):
    broken = "Mira Holt was born in Kessel."

    def respond(body, number):
        if any(broken in m["content"] for m in body["messages"]):
            return bad if not is_entity_step(body) or bad.status != 200 or bad.delay else good_openie(body)
        return good_openie(body)

    with ScriptedLLM(respond) as server:
        llm = settings(server, tmp_path, timeout=1.0, max_retries=1)
        with open_memory(tmp_path, embedder, llm) as memory:
            memory.ingest(documents(PASSAGES[:1]), progress=False)  # the format is settled by a good call first
            report = memory.ingest(documents(), progress=False)
            assert report.added == 2 and report.failed == 1
            assert [text for text, _ in failures(memory)] == [broken]
            assert memory.stats().failed_extractions == 1
            assert memory.stats().facts == 2, "the other passages went on"
            assert rows(memory, "SELECT COUNT(*) FROM passages")[0][0] == 3, "the failed passage is stored"
            retried = [r for r in server.requests if len(r["messages"]) > 2]
            if bad.status == 200 and not bad.delay and bad.finish_reason == "stop":  # asked again, with a reminder
                assert retried and "only the JSON object" in retried[0]["messages"][-1]["content"]
            else:  # a reply cut off at max_tokens, or no reply at all: nothing to remind of
                assert retried == []
            assert memory.llm.slots.limit == (1 if bad.delay else 2), "a timeout halves the calls in flight"
        server.respond = good_openie  # the model behaves now
        with open_memory(tmp_path, embedder, llm) as memory:
            again = memory.retry_failed(progress=False)
            assert again.passages == 1 and again.failed == 0
            assert failures(memory) == [] and memory.stats().facts == 3
            hits = memory.query("Where was Mira Holt born?", k=3)
            assert "Kessel" in hits[0].text


def test_lenient_output_is_read_and_empty_triples_are_not_a_failure(tmp_path, embedder):
    def respond(body, number):
        if is_entity_step(body):  # fenced, with Python-style quotes and a trailing comma
            return Reply("Sure! Here they are:\n```json\n{'entities': ['Kessel', 'Aun',]}\n```\nHope this helps.")
        return Reply('{"triples": []}')

    with ScriptedLLM(respond) as server, open_memory(tmp_path, embedder, settings(server, tmp_path)) as memory:
        report = memory.ingest(documents(PASSAGES[2:]), progress=False)
        assert report.failed == 0
        assert sorted(r[0] for r in rows(memory, "SELECT name FROM entities")) == ["Aun", "Kessel"]
        assert memory.stats().facts == 0


def test_answer_cites_the_passages_the_model_names(tmp_path, embedder):
    def respond(body, number):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("Passages:"):
            assert "Question: Where was the founder of Brightwater Labs born?" in prompt
            kessel = next(line for line in prompt.splitlines() if "born in Kessel" in line)
            number = int(kessel[1 : kessel.index("]")])
            return Reply(json.dumps({"answer": "Kessel", "citations": [number, 99, f"[{number}]"]}))
        return good_openie(body)

    with ScriptedLLM(respond) as server, open_memory(tmp_path, embedder, settings(server, tmp_path)) as memory:
        memory.ingest(documents(), progress=False)
        answer = memory.answer("Where was the founder of Brightwater Labs born?", k=3)
        assert answer.text == "Kessel"
        assert [hit.text for hit in answer.citations] == ["Mira Holt was born in Kessel."]
        assert len(answer.hits) == 3 and answer.to_dict()["citations"] == [answer.citations[0].id]


def test_nothing_calls_a_model_unless_an_llm_feature_is_used(tmp_path, embedder, extractor, monkeypatch):
    with ScriptedLLM(good_openie) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("HIPPOGRAPH_LLM_MODEL", "scripted")
        with Memory(tmp_path / "offline", embedder=embedder, extractor=extractor) as memory:
            memory.ingest(documents(), progress=False)
            memory.query("Where was Mira Holt born?")
        assert server.requests == []
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with Memory(tmp_path / "offline", embedder=embedder, extractor=extractor) as memory:
        with pytest.raises(LLMNotConfigured, match="OPENAI_BASE_URL"):
            memory.answer("Where was Mira Holt born?")
    with pytest.raises(LLMNotConfigured):
        Memory(tmp_path / "llm", embedder=embedder, extractor="llm")


@pytest.mark.parametrize("kept", [[1], []])
def test_fact_filter_keeps_only_the_facts_the_model_picks(tmp_path, embedder, kept):
    def respond(body, number):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("Question:"):
            assert "Candidate facts:\n1. (" in prompt
            return Reply(json.dumps({"relevant": kept + [42]}))  # 42: no such fact, ignored
        return good_openie(body)

    config = Config(fact_weight=0.2, llm_fact_filter=True)
    with (
        ScriptedLLM(respond) as server,
        open_memory(tmp_path, embedder, settings(server, tmp_path), config=config) as memory,
    ):
        memory.ingest(documents(), progress=False)
        unfiltered = Memory(
            tmp_path / "store",
            Config(fact_weight=0.2),
            embedder=embedder,
            extractor="llm",
            llm=settings(server, tmp_path),
        )
        with unfiltered:
            linked = unfiltered.query("Where was Mira Holt born?", k=1)[0].explanation.seed_facts
        hit = memory.query("Where was Mira Holt born?", k=1)[0]
        assert len(linked) == 3
        assert hit.explanation.seed_facts == linked[: len(kept)]
        assert sum(1 for r in server.requests if r["messages"][-1]["content"].startswith("Question:")) == 1


def test_retry_from_the_command_line_uses_the_llm_and_refuses_another_extractor(tmp_path, embedder, monkeypatch):
    from hippograph.cli import main

    def garbage_for_kessel(body, number):
        return Reply("no idea") if "Kessel lies" in user_text(body) else good_openie(body)

    with ScriptedLLM(garbage_for_kessel) as server:
        with open_memory(tmp_path, embedder, settings(server, tmp_path, max_retries=0)) as memory:
            assert memory.ingest(documents(), progress=False).failed == 1
        with pytest.raises(ConfigError, match="failed with extractor llm:scripted"):
            with Memory(tmp_path / "store", embedder=embedder) as offline:  # spaCy would clear the record
                offline.retry_failed(progress=False)
        server.respond = good_openie
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("HIPPOGRAPH_LLM_MODEL", "scripted")
        monkeypatch.setenv("HIPPOGRAPH_LLM_CACHE", str(tmp_path / "llm-calls.sqlite"))
        assert main(["ingest", "--retry-failed", "--store", str(tmp_path / "store"), "--quiet"]) == 0
    with Memory(tmp_path / "store", embedder=embedder) as memory:
        assert memory.stats().failed_extractions == 0 and memory.stats().facts == 3
