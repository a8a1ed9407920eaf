"""Notes written by the LLM (Config.llm_notes): attributes, confirmed links with reasons, suggested
evolution, and the offline fallback when calls fail. The model is a scripted OpenAI-compatible
server over real HTTP (a real model cannot be made to answer on cue; test_llm_server.py runs a
real one); stores are real SQLite files, extraction is the real spaCy model, embeddings the
real MiniLM."""

from __future__ import annotations

import json
import re
import socket

import pytest

from hippograph import Config, Document, Memory
from hippograph.errors import LLMError, LLMNotConfigured, LLMOutputError
from hippograph.llm import LLMSettings
from hippograph.notes import llm_attributes
from hippograph.notes.llm_attributes import note_attributes
from hippograph.notes.llm_links import judgment

from .scripted_llm import Reply, ScriptedLLM, user_text

CAT = "Maria Lopez adopted a grey cat named Pepper in March."
HIKE = "We went hiking in the mountains near the lake on Saturday."
WALK = "Hiking in the mountains near a lake is lovely on weekends."
NEW = "Maria Lopez went hiking in the mountains near the lake on Sunday."
OTHER = "Maria Lopez sold her cat Pepper in April."
TIMES = ["2024-03-01T10:00:00", "2024-03-02T10:00:00", "2024-03-03T10:00:00", "2024-03-04T10:00:00"]


def settings(server: ScriptedLLM, tmp_path, **changes) -> LLMSettings:
    values = dict(
        base_url=server.url,
        api_key="test",
        model="scripted",
        timeout=2.0,
        max_retries=1,
        backoff=0.01,
        max_concurrency=2,
        cache_path=tmp_path / "llm-calls.sqlite",
    )
    values.update(changes)
    return LLMSettings(**values)


def open_memory(tmp_path, embedder, extractor, llm, name="store", **config) -> Memory:
    return Memory(tmp_path / name, Config(llm_notes=True, **config), embedder=embedder, extractor=extractor, llm=llm)


def is_attributes(body: dict) -> bool:
    return user_text(body).startswith("Describe this note")


def is_links(body: dict) -> bool:
    return user_text(body).startswith("A new note arrived")


def shown_candidates(body: dict) -> list[str]:
    """The texts of the earlier notes a link request shows, in their numbered order."""
    return re.findall(r"^\d+\. context: .*\ntags: .*\ntext: (.*)$", user_text(body), flags=re.MULTILINE)


def describe(body: dict) -> Reply:
    """A capable model's attributes: keywords from the note's capitalised words, a fixed tag, a summary."""
    note = user_text(body).split(":\n", 1)[1].split("\n\nReply")[0]
    keywords = re.findall(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", note)
    return Reply(
        json.dumps(
            {
                "keywords": keywords,
                "tags": ["Outdoors" if "hik" in note.lower() else "Pets"],
                "context": f"About: {note[:30]}",
            }
        )
    )


def link_to(text: str, reason: str, updates: list | None = None):
    """A link reply: a new note naming Maria Lopez is linked to the shown candidate whose text
    starts with `text`; other notes get no link."""

    def respond(body: dict) -> Reply:
        new_note = user_text(body).split("Earlier notes")[0]
        shown = shown_candidates(body) if "Maria Lopez" in new_note else []
        links = [{"note": n, "reason": reason} for n, t in enumerate(shown, 1) if t.startswith(text)]
        reply = {"links": links}
        if updates is not None:
            reply["updates"] = (
                [{**u, "note": links[0]["note"] if u["note"] == "linked" else u["note"]} for u in updates]
                if links
                else []
            )
        return Reply(json.dumps(reply))

    return respond


def scripted(link_reply):
    def respond(body: dict, number: int) -> Reply:
        return describe(body) if is_attributes(body) else link_reply(body)

    return respond


def add_all(memory: Memory, texts: list[str], namespace: str | None = None) -> list[str]:
    return [memory.add(text, timestamp=TIMES[n], namespace=namespace).id for n, text in enumerate(texts)]


def test_llm_writes_note_attributes_cached_by_prompt_version(tmp_path, embedder, extractor, monkeypatch):
    with ScriptedLLM(scripted(link_to("-", "unused"))) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path)) as memory:
            note = memory.add(CAT, timestamp=TIMES[0])
            assert note.keywords == ("Maria Lopez", "Pepper", "March")
            assert note.tags == ("pets",), "tags are lowercased"
            assert note.context == f"About: {CAT[:30]}"
            assert memory.get(note.id) == note
            assert len(server.requests) == 1, "the first note has no earlier note to link to: one call"
            assert "(written 2024-03-01T10:00:00+00:00)" in user_text(server.requests[0])
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path), name="second") as memory:
            assert memory.add(CAT, timestamp=TIMES[0]).context == note.context
            assert len(server.requests) == 1, "the same note in a new store comes from the call cache"
            monkeypatch.setattr(llm_attributes, "PROMPT_VERSION", "note-attributes-test")
            memory.add(CAT, timestamp=TIMES[0], namespace="b")  # the same prompt
            assert len(server.requests) == 2, "another prompt version misses the cache"


def test_llm_confirms_links_among_nearest_and_entity_sharing_notes(tmp_path, embedder, extractor):
    with ScriptedLLM(scripted(link_to(CAT, "both about Maria Lopez"))) as server:
        llm = settings(server, tmp_path)
        with open_memory(tmp_path, embedder, extractor, llm, link_candidates=2) as memory:
            memory.add(OTHER, timestamp=TIMES[0], namespace="other")  # the same person, another namespace
            cat, hike, walk, new = add_all(memory, [CAT, HIKE, WALK, NEW])
            asked = [body for body in server.requests if is_links(body)]
            assert shown_candidates(asked[-1]) == [HIKE, CAT], (
                "half the candidates are the nearest notes, the rest share an entity "
                "(the cat note is the least similar)"
            )
            assert all(len(shown_candidates(body)) <= 2 for body in asked)
            assert not any(OTHER in user_text(body) for body in asked), "nothing from the other namespace is shown"
            assert [link.note_id for link in memory.get(new).links] == [cat]
            link = memory.get(new).links[0]
            assert (link.kind, link.reason, link.weight) == ("llm", "both about Maria Lopez", 1.0)
            assert memory.get(hike).links == () and memory.get(walk).links == ()


def test_llm_evolution_is_recorded_and_revertible(tmp_path, embedder, extractor):
    updates = [
        {"note": "linked", "tags": ["Pets", "family"], "context": "Maria Lopez's cat, adopted in March"},
        {"note": 99, "tags": ["ignored"], "context": "names no candidate"},
    ]
    with ScriptedLLM(scripted(link_to(CAT, "same person", updates))) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path), evolve_notes=True) as memory:
            cat, hike, new = add_all(memory, [CAT, HIKE, NEW])
            assert '"updates"' in user_text([b for b in server.requests if is_links(b)][-1])
            note = memory.get(cat)
            assert note.tags == ("pets", "family") and note.context == "Maria Lopez's cat, adopted in March"
            history = memory.history(cat)
            assert [(c.field, c.changed_by, c.source_note) for c in history] == [
                ("tags", "llm-evolution", new),
                ("context", "llm-evolution", new),
            ]
            assert memory.get(hike).tags == ("outdoors",), "a note the LLM did not link to is left alone"
            memory.revert(history[1].id)
            assert memory.get(cat).context == f"About: {CAT[:30]}"
            assert memory.get(cat).tags == ("pets", "family"), "reverting one change leaves the other"


def test_without_evolution_no_updates_are_asked_for(tmp_path, embedder, extractor):
    with ScriptedLLM(scripted(link_to(CAT, "same person"))) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path)) as memory:
            cat, new = add_all(memory, [CAT, NEW])
            asked = [b for b in server.requests if is_links(b)]
            assert len(asked) == 1 and '"updates"' not in user_text(asked[0])
            assert memory.history(cat) == []


@pytest.mark.parametrize("fault", ["garbage", "server error"])
def test_failed_calls_fall_back_to_offline_attributes_and_links(tmp_path, embedder, extractor, fault):
    def respond(body, number):
        if fault == "garbage":
            return Reply("I think these notes are related!" if is_links(body) else '{"keywords": ["only"]}')
        return Reply("overloaded", status=500)

    twin = "Maria Lopez went hiking in the mountains near the lake on Sunday morning."
    with ScriptedLLM(respond) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path), evolve_notes=True) as memory:
            report = memory.ingest(
                [Document(text, id=f"n{n}", timestamp=TIMES[n]) for n, text in enumerate([NEW, twin])], progress=False
            )
            assert report.passages == 2 and report.notes_offline == 3, "two attribute calls and one link call failed"
            assert "3 LLM note call(s) failed, offline attributes or links used instead" in str(report)
            assert report.llm_usage.startswith("6 LLM calls, 0 cached, 3 failed")
            first, second = (memory.get(memory.document(f"n{n}").passage_ids[0]) for n in range(2))
            assert first.keywords == ("Maria Lopez", "Sunday") and first.context == NEW, "offline attributes"
            assert [(link.note_id, link.kind) for link in second.links] == [(first.id, "similar")], (
                "the near-identical note is linked offline (cosine above Config.link_threshold)"
            )
            assert memory.history(first.id) == [], "offline evolution: no tag of the second note is new to the first"
        with ScriptedLLM(scripted(link_to("-", "unused"))) as good:
            with open_memory(tmp_path, embedder, extractor, settings(good, tmp_path), name="again") as memory:
                memory.ingest([Document(NEW, id="n0", timestamp=TIMES[0])], progress=False)
                assert len(good.requests) == 1, "failed calls were not cached"


def test_unusable_endpoint_stops_the_write_and_keeps_stored_notes(tmp_path, embedder, extractor, monkeypatch):
    with ScriptedLLM(scripted(link_to("-", "unused"))) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path)) as memory:
            kept = memory.add(CAT, timestamp=TIMES[0])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    down = LLMSettings(base_url=closed, model="scripted", timeout=1.0, max_retries=0, use_cache=False)
    with open_memory(tmp_path, embedder, extractor, down) as memory:
        with pytest.raises(LLMError, match="cannot reach the LLM endpoint"):
            memory.add(NEW, timestamp=TIMES[1])
        assert memory.stats().passages == 1 and memory.get(kept.id) == kept
    for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HIPPOGRAPH_LLM_MODEL"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(LLMNotConfigured, match="no LLM endpoint is configured"):
        Memory(tmp_path / "store", Config(llm_notes=True), embedder=embedder, extractor=extractor)


def test_an_endpoint_lost_at_the_link_step_leaves_the_memory_usable(tmp_path, embedder, extractor):
    down = {"links": False}

    def respond(body, number):
        if is_links(body) and down["links"]:
            return Reply("invalid API key", status=401)
        return scripted(link_to(CAT, "same person"))(body, number)

    with ScriptedLLM(respond) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path, use_cache=False)) as memory:
            cat = memory.add(CAT, timestamp=TIMES[0]).id
            down["links"] = True
            with pytest.raises(LLMError, match="refused"):
                memory.add(HIKE, timestamp=TIMES[1])
            assert memory.stats().passages == 1
            down["links"] = False
            new = memory.add(NEW, timestamp=TIMES[2])
            shown = shown_candidates([body for body in server.requests if is_links(body)][-1])
            assert shown == [CAT], "the note that was never written is no candidate"
            assert [link.note_id for link in new.links] == [cat]


def test_offline_evolution_of_a_failed_note_builds_on_the_llm_changes_of_its_batch(tmp_path, embedder, extractor):
    twin = "Maria Lopez adopted a grey cat called Pepper in March."

    def respond(body, number):
        if is_links(body) and user_text(body).split("Earlier notes")[0].count(twin):
            return Reply("overloaded", status=500)
        if is_attributes(body) and twin in user_text(body):
            return Reply(json.dumps({"keywords": ["Pepper"], "tags": ["adoption"], "context": "A cat adopted."}))
        return scripted(link_to(CAT, "same cat", [{"note": "linked", "tags": ["pets", "llm-tag"], "context": "x"}]))(
            body, number
        )

    with ScriptedLLM(respond) as server:
        with open_memory(tmp_path, embedder, extractor, settings(server, tmp_path), evolve_notes=True) as memory:
            cat = memory.add(CAT, timestamp=TIMES[0], id="cat").id
            report = memory.ingest(
                [Document(NEW, id="new", timestamp=TIMES[1]), Document(twin, id="twin", timestamp=TIMES[2])],
                progress=False,
            )
            assert report.notes_offline == 1
            history = memory.history(cat)
            assert [(c.changed_by, c.field, c.new) for c in history if c.field == "tags"] == [
                ("llm-evolution", "tags", ("pets", "llm-tag")),
                ("evolution", "tags", ("pets", "llm-tag", "adoption")),
            ]
            assert memory.get(cat).tags == ("pets", "llm-tag", "adoption")


def test_malformed_replies_are_read_leniently_or_refused():
    assert note_attributes(
        {"keywords": ["  Pepper ", "", "Pepper", 7], "tags": ["Pets", "pets"], "context": "A cat."}
    ) == note_attributes({"keywords": ["Pepper"], "tags": ["pets"], "context": "A cat."})
    for unusable in ([], {"keywords": ["a"], "tags": []}, {"keywords": [], "tags": [], "context": " ... "}):
        with pytest.raises(LLMOutputError, match="context|JSON object"):
            note_attributes(unusable)
    found = judgment(
        {
            "links": [{"note": 2, "reason": ""}, {"note": 5}, {"note": True}, "x"],
            "updates": [{"note": 1, "tags": ["a"]}, {"note": 2, "tags": ["B", "b"], "context": 3}],
        },
        3,
    )
    assert found == {"links": [[1, "related (LLM)"]], "updates": [[1, ["b"], ""]]}, "updates only for linked notes"
    assert judgment({"links": [], "updates": "none"}, 3) == {"links": [], "updates": []}
    for unusable in ({"links": [{"note": 4}]}, {"linked": [1]}, ["1"]):
        with pytest.raises(LLMOutputError, match="links"):
            judgment(unusable, 3)
