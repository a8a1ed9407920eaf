"""Namespace isolation: every entry point of Memory, tried from one namespace on another's data.

Two namespaces hold notes about the same people and places (same entity names, the same
document ids, one identical text), with links and evolution on, so any leak through shared
entities, ids, vectors, links or evolution would show.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

import hippograph
from hippograph import LLMSettings, Memory

from .scripted_llm import Reply, ScriptedLLM

SHARED_TEXT = "Mira Holt founded Brightwater Labs in Veloria."
NOTES = {
    "alice": [
        "Mira Holt hid the key under the blue stone.",
        "Brightwater Labs moved to Kessel in 2020.",
        "Mira Holt lives in Paris.",
    ],
    "bob": [
        "Mira Holt hid the key under the red bench.",
        "Brightwater Labs moved to Norland in 2021.",
        "Mira Holt lives in Rome.",
    ],
}
QUESTIONS = [
    "Where did Mira Holt hide the key?",
    "Where did Brightwater Labs move?",
    "Where does Mira Holt live?",
    "Who founded Brightwater Labs?",
]
CONFIG = hippograph.Config(link_threshold=0.3, evolve_notes=True)


def fill(memory: Memory, namespace: str) -> dict[str, hippograph.Note]:
    notes = {"shared": memory.add(SHARED_TEXT, id="shared", namespace=namespace, timestamp="2020-01-01")}
    for number, text in enumerate(NOTES[namespace]):
        notes[f"n{number}"] = memory.add(text, id=f"n{number}", namespace=namespace, timestamp=f"202{number + 1}-01-01")
    memory.ingest(
        hippograph.Document("Veloria is a hill town. Mira Holt was born there.", id="doc", namespace=namespace),
        progress=False,
    )
    return notes


def results(memory: Memory, namespace: str) -> list[tuple]:
    return [
        (question, method, hit.id, round(hit.score, 9))
        for question in QUESTIONS
        for method in ("hippograph", "dense")
        for hit in memory.query(question, k=10, method=method, namespace=namespace)
    ]


@pytest.fixture
def two_tenants(tmp_path, embedder, extractor):
    with Memory(tmp_path / "store", CONFIG, embedder=embedder, extractor=extractor) as memory:
        notes = {namespace: fill(memory, namespace) for namespace in ("alice", "bob")}
        yield memory, notes


def counts(stats: hippograph.Stats) -> hippograph.Stats:
    """Stats without the file size, which any write to the file changes."""
    return dataclasses.replace(stats, size_bytes=0)


def ids_of(memory: Memory, namespace: str) -> set[str]:
    with sqlite3.connect(memory.stats().path) as db:
        return {r[0] for r in db.execute("SELECT id FROM passages WHERE namespace = ?", (namespace,))}


def test_reads_of_one_namespace_see_nothing_of_another(two_tenants):
    memory, notes = two_tenants
    alice, bob = ids_of(memory, "alice"), ids_of(memory, "bob")
    assert alice and bob and not alice & bob and notes["alice"]["shared"].id != notes["bob"]["shared"].id
    for question in QUESTIONS:
        for method in ("hippograph", "dense"):
            for window in ({}, {"since": "2021-06-01"}, {"until": "2022-06-01"}, {"as_of": "2022-06-01"}):
                hits = memory.query(question, k=10, method=method, namespace="alice", **window)
                assert {hit.id for hit in hits} <= alice, (question, method, window)
    for note in notes["bob"].values():
        for read in (memory.get, memory.history):
            with pytest.raises(hippograph.DocumentNotFound):
                read(note.id, namespace="alice")
    for note in notes["alice"].values():
        assert {link.note_id for link in memory.get(note.id, namespace="alice").links} <= alice
    assert set(memory.document("doc", namespace="alice").passage_ids) <= alice
    assert {i for fact in memory.facts(namespace="alice") for i in fact.note_ids} <= alice
    assert [f.object for f in memory.facts("Mira Holt", namespace="alice") if f.relation == "lives in"] == ["Paris"]
    assert memory.stats("alice").passages == len(alice) and memory.stats("bob").passages == len(bob)
    assert memory.stats("alice").links == sum(len(memory.get(i, namespace="alice").links) for i in alice) // 2
    assert memory.namespaces() == ["alice", "bob"]


def test_no_link_or_evolution_crosses_namespaces(two_tenants):
    memory, notes = two_tenants
    with sqlite3.connect(memory.stats().path) as db:
        crossing = db.execute(
            "SELECT COUNT(*) FROM links l JOIN passages a ON a.id = l.a "
            "JOIN passages b ON b.id = l.b WHERE a.namespace != b.namespace"
        ).fetchone()[0]
        assert crossing == 0 and memory.stats().links > 0
        sources = db.execute(
            "SELECT h.source_note, p.namespace FROM note_history h "
            "JOIN passages p ON p.id = h.passage_id WHERE h.source_note IS NOT NULL"
        ).fetchall()
        with pytest.raises(sqlite3.IntegrityError, match="one namespace"):  # the store itself refuses one
            a, b = sorted([notes["alice"]["n0"].id, notes["bob"]["n0"].id])
            db.execute("INSERT INTO links VALUES (?, ?, 'similar', 'test', 1.0, '2024-01-01')", (a, b))
    by_namespace = {ns: ids_of(memory, ns) for ns in ("alice", "bob")}
    assert all(source in by_namespace[namespace] for source, namespace in sources)


def test_writes_in_one_namespace_cannot_touch_another(two_tenants):
    memory, notes = two_tenants
    bob_before, bob_stats = results(memory, "bob"), counts(memory.stats("bob"))
    bob_notes = {note.id: memory.get(note.id, namespace="bob") for note in notes["bob"].values()}
    bob_changes = [c.id for n in bob_notes for c in memory.history(n, namespace="bob")]
    for note in notes["bob"].values():
        with pytest.raises(hippograph.DocumentNotFound):
            memory.update(note.id, "overwritten", namespace="alice")
        with pytest.raises(hippograph.DocumentNotFound):
            memory.delete_note(note.id, namespace="alice")
    for change_id in bob_changes:
        with pytest.raises(hippograph.DocumentNotFound):
            memory.revert(change_id, namespace="alice")
    alice_shared = notes["alice"]["shared"]
    memory.update(alice_shared.id, "Mira Holt founded Brightwater Labs in Kessel.", namespace="alice")
    memory.add("Mira Holt hid a second key under the blue stone.", namespace="alice")
    memory.retry_failed(namespace="alice", progress=False)
    memory.delete("doc", namespace="alice")
    assert memory.document("doc", namespace="bob").passage_ids
    assert {n: memory.get(n, namespace="bob") for n in bob_notes} == bob_notes
    assert memory.delete_namespace("alice") == 5  # 4 notes + 1 added; "doc" was deleted
    assert memory.namespaces() == ["bob"] and memory.stats("alice").passages == 0
    assert results(memory, "bob") == bob_before and counts(memory.stats("bob")) == bob_stats
    assert memory.query("Where did Mira Holt hide the key?", namespace="alice") == []
    stats = memory.stats()
    assert (stats.passages, stats.entities, stats.facts) == (bob_stats.passages, bob_stats.entities, bob_stats.facts)


def test_an_answer_in_one_namespace_shows_the_model_nothing_of_another(two_tenants, tmp_path, embedder):
    memory, _ = two_tenants
    prompts = []

    def respond(body, number):
        prompts.append(body["messages"][-1]["content"])
        return Reply(json.dumps({"answer": "under the blue stone", "citations": [1]}))

    with ScriptedLLM(respond) as server:
        settings = LLMSettings(
            base_url=server.url, api_key="test", model="scripted", cache_path=tmp_path / "calls.sqlite"
        )
        with Memory(tmp_path / "store", llm=settings, embedder=embedder) as same:
            answer = same.answer("Where did Mira Holt hide the key?", k=10, namespace="alice")
    assert {hit.id for hit in answer.hits} <= ids_of(memory, "alice")
    assert prompts and not any(text in prompt for prompt in prompts for text in NOTES["bob"])


def test_a_write_to_one_namespace_leaves_the_graph_view_of_another(two_tenants, tmp_path, embedder, extractor):
    memory, _ = two_tenants
    alice = memory._views.get("alice")  # the cached view a query of alice's runs on
    memory.add("Mira Holt sold the red bench.", namespace="bob")
    assert memory._views.get("alice") is alice  # not read or built again
    with Memory(tmp_path / "store", CONFIG, embedder=embedder, extractor=extractor) as other:  # as another process
        other.add("Mira Holt painted the red bench.", namespace="bob")
        assert memory._views.get("alice") is alice
        moved = other.add("Mira Holt moved to Oslo.", namespace="alice")
    rebuilt = memory._views.get("alice")
    assert rebuilt is not alice and moved.id in rebuilt.data.passage_ids
    assert moved.id in [hit.id for hit in memory.query("Where did Mira Holt move?", k=3, namespace="alice")]
