"""Export and import (`Memory.export`, `Memory.import_export`, `hippograph export/import`): a memory
moved to another store answers the same, and a bad file imports nothing. Real SQLite files,
the real spaCy and MiniLM models."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hippograph import Config, Memory, SourceError, Stats, StoreError

QUESTION = "Where was the founder of Brightwater Labs born?"


def answers(memory: Memory, namespace: str | None = None) -> dict:
    return {
        method: [
            (h.id, h.score, str(h.explanation))
            for h in memory.query(QUESTION, k=10, method=method, namespace=namespace)
        ]
        for method in ("hippograph", "dense")
    }


def sizes(memory: Memory, namespace: str | None) -> Stats:
    """A memory's counts, without where its file is and how big."""
    return dataclasses.replace(memory.stats(namespace), path="", size_bytes=0)


def folder(memory: Memory) -> Path:
    return Path(memory.stats().path).parent


@pytest.fixture
def full_memory(sample_memory, embedder, extractor):
    """The sample store (synonymy edges, fact vectors) plus a namespace of notes with links,
    evolution history and a reverted change."""
    store = folder(sample_memory)
    sample_memory.close()
    memory = Memory(store, Config(evolve_notes=True, link_threshold=0.6), embedder=embedder, extractor=extractor)
    first = memory.add("Mira Holt founded Brightwater Labs in Veloria.", namespace="chat", timestamp="2024-01-01")
    memory.add(
        "Mira Holt and Brightwater Labs are in Veloria, Mira Holt said.", namespace="chat", timestamp="2024-01-02"
    )
    memory.update(first.id, "Mira Holt founded Brightwater Labs in Veloria in 1990.", namespace="chat")
    yield memory
    memory.close()


def test_an_exported_memory_imports_into_a_new_store_unchanged(full_memory, tmp_path, embedder, extractor):
    counts = full_memory.export(tmp_path / "memory.jsonl")
    assert counts["synonym"] > 0 and counts["link"] > 0 and counts["note_change"] > 0 and counts["fact"] > 50
    with Memory(tmp_path / "copy", embedder=embedder, extractor=extractor) as copy:
        assert copy.import_export(tmp_path / "memory.jsonl") == counts
        copy.export(tmp_path / "again.jsonl")
        assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "memory.jsonl").read_bytes()
        assert answers(copy) == answers(full_memory)
        assert answers(copy, "chat") == answers(full_memory, "chat")
        for namespace in (None, "chat"):
            assert sizes(copy, namespace) == sizes(full_memory, namespace)
        note_id = full_memory.query("Veloria", namespace="chat", k=1)[0].id
        assert copy.get(note_id, namespace="chat") == full_memory.get(note_id, namespace="chat")
        assert copy.history(note_id, namespace="chat") == full_memory.history(note_id, namespace="chat")
        copy.add("Arvid Koss repairs boats.", namespace="chat", timestamp="2024-01-03")  # the copy takes writes
        assert copy.stats("chat").passages == full_memory.stats("chat").passages + 1


def test_import_refuses_a_store_that_holds_anything(full_memory, tmp_path):
    full_memory.export(tmp_path / "memory.jsonl")
    before = full_memory.stats()
    with pytest.raises(StoreError, match="is not empty; import into a new store"):
        full_memory.import_export(tmp_path / "memory.jsonl")
    assert full_memory.stats() == before


def test_a_bad_export_imports_nothing(full_memory, tmp_path, embedder, extractor):
    full_memory.export(tmp_path / "memory.jsonl")
    header, *lines = (tmp_path / "memory.jsonl").read_text(encoding="utf-8").splitlines()
    mention = next(n for n, line in enumerate(lines) if line.startswith('{"record": "mention"'))
    orphan = json.dumps({**json.loads(lines[mention]), "passage_id": "no-such-passage"})
    no_field = json.dumps({k: v for k, v in json.loads(lines[mention]).items() if k != "entity_id"})
    bad_vector = json.dumps({**json.loads(lines[0]), "vector": "not base64!"})
    cases = {
        "not an export": (['{"format": "something else"}', *lines], SourceError, "is not a hippograph export"),
        "newer version": ([header.replace('"version": 1', '"version": 9'), *lines], SourceError, "version 9 export"),
        "broken line": ([header, *lines[:5], "{not json", *lines[5:]], SourceError, "line 7: not JSON"),
        "unknown record": ([header, '{"record": "table"}', *lines], SourceError, "unknown record type 'table'"),
        "missing field": ([header, *lines[:mention], no_field], SourceError, "missing: entity_id"),
        "dangling reference": (
            [header, *lines[:mention], orphan],
            SourceError,
            f"line {mention + 2}: this mention record names passage 'no-such-passage'",
        ),
        "bad vector": ([header, bad_vector, *lines[1:]], SourceError, "line 2: .* not base64"),
        "other model": ([header.replace("all-MiniLM-L6-v2", "another-model"), *lines], StoreError, "another-model"),
        **tampered(header, lines),
    }
    for name, (content, error, message) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(content) + "\n", encoding="utf-8")
        with Memory(tmp_path / name, embedder=embedder, extractor=extractor) as target:
            with pytest.raises(error, match=message):
                target.import_export(path)
            stats = target.stats()
            assert (stats.documents, stats.passages, stats.embeddings) == (0, 0, 0), name


def tampered(header: str, lines: list[str]) -> dict[str, tuple[list[str], type, str]]:
    """Exports that read line by line but do not fit together, each with the problem it must be
    refused for (these imported "fine" once, and then every query of the store failed)."""
    records = [json.loads(line) for line in lines]

    def first(kind: str, where=lambda record: True) -> int:
        return next(n for n, r in enumerate(records) if r["record"] == kind and where(r))

    def changed(n: int, **values) -> list[str]:
        return [header, *lines[:n], json.dumps({**records[n], **values}), *lines[n + 1 :]]

    def line(n: int) -> str:
        return f"line {n + 2}: "  # the header is line 1

    def vector(numbers) -> str:
        return base64.b64encode(np.asarray(numbers, dtype="<f4").tobytes()).decode("ascii")

    passage = first("passage")
    used = records[passage]["embedding_key"]
    embedding = first("embedding", lambda r: r["key"] == used)
    entity = first("entity", lambda r: any(m["record"] == "mention" and m["entity_id"] == r["id"] for m in records))
    mention = first("mention", lambda r: r["entity_id"] == records[entity]["id"])
    dimension = len(base64.b64decode(records[embedding]["vector"])) // 4
    return {
        "an embedding line removed": (
            [header, *lines[:embedding], *lines[embedding + 1 :]],
            SourceError,
            f"line {passage + 1}: this passage record names embedding {used!r}",
        ),
        "a passage naming no embedding": (
            changed(passage, embedding_key="no-such-vector"),
            SourceError,
            line(passage) + "this passage record names embedding 'no-such-vector'",
        ),
        "an entity moved to another namespace": (
            changed(entity, namespace="elsewhere"),
            SourceError,
            line(mention) + "this mention record joins namespace",
        ),
        "a vector one number short": (
            changed(embedding, vector=vector(np.ones(dimension - 1))),
            SourceError,
            f"{dimension - 1} numbers, the earlier ones {dimension}",
        ),
        "a vector one number long": (
            changed(embedding, vector=vector(np.ones(dimension + 1))),
            SourceError,
            f"{dimension + 1} numbers",
        ),
        "an empty vector": (changed(embedding, vector=""), SourceError, "an empty vector"),
        "a NaN vector": (
            changed(embedding, vector=vector(np.full(dimension, np.nan))),
            SourceError,
            line(embedding) + "this embedding record has a vector with NaN",
        ),
        "keywords not a list": (
            changed(passage, keywords="alpha, beta"),
            SourceError,
            line(passage) + "this passage record has keywords 'alpha, beta', not a list of texts",
        ),
        "a position that is no number": (changed(passage, position="x"), SourceError, "has position 'x'"),
        "metadata not an object": (changed(first("document"), metadata=[1, 2]), SourceError, "not a JSON object"),
        "a passage twice": (
            [header, *lines[: passage + 1], lines[passage], *lines[passage + 1 :]],
            SourceError,
            line(passage + 1) + "this passage record repeats the passage",
        ),
    }


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippograph.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_export_and_import(full_memory, tmp_path):
    store = str(folder(full_memory))
    full_memory.close()
    exported = run("export", "--store", store, "-o", str(tmp_path / "m.jsonl"))
    assert exported.returncode == 0 and "38 document, 38 passage" in exported.stderr
    imported = run("import", str(tmp_path / "m.jsonl"), "--store", str(tmp_path / "copy"))
    assert imported.returncode == 0 and "38 document, 38 passage" in imported.stdout
    again = run("import", str(tmp_path / "m.jsonl"), "--store", str(tmp_path / "copy"))
    assert again.returncode == 1 and "is not empty" in again.stderr
    one_namespace = run("export", "--store", str(tmp_path / "copy"), "--namespace", "chat")
    assert one_namespace.returncode == 2 and "--namespace" in one_namespace.stderr, "the whole store or nothing"
    to_stdout = run("export", "--store", str(tmp_path / "copy"))
    assert to_stdout.stdout == (tmp_path / "m.jsonl").read_text(encoding="utf-8")


def test_cli_copy_moves_a_memory_to_a_graph_server_and_back(full_memory, tmp_path, bolt_server, monkeypatch):
    store = str(folder(full_memory))
    full_memory.close()
    for variable, value in (
        ("NEO4J_USERNAME", bolt_server.user),
        ("NEO4J_PASSWORD", bolt_server.password),
        ("NEO4J_DATABASE", bolt_server.new_database()),
    ):
        monkeypatch.setenv(variable, value)
    there = run("copy", store, bolt_server.uri)
    assert there.returncode == 0 and "38 document, 38 passage" in there.stdout, there.stderr
    back = run("copy", bolt_server.uri, str(tmp_path / "back"))
    assert back.returncode == 0 and "38 document, 38 passage" in back.stdout, back.stderr
    original = run("export", "--store", store).stdout
    assert run("export", "--store", str(tmp_path / "back")).stdout == original, "times and vectors included"
    again = run("copy", store, bolt_server.uri)
    assert again.returncode == 1 and "is not empty; import into a new store" in again.stderr
    assert run("export", "--store", bolt_server.uri).stdout == original, "the refused copy changed nothing"
    assert bolt_server.password not in there.stdout + there.stderr + again.stderr


def test_the_import_checks_know_every_field_of_every_record():
    from hippograph.store.export_check import _FIELDS
    from hippograph.store.transfer import RECORDS

    assert {kind: tuple(fields) for kind, fields in _FIELDS.items()} == RECORDS
