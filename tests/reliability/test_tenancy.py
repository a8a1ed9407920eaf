"""Tenancy through the command line (the Python door: tests/test_namespaces.py; REST and MCP:
test_rest_attack.py, test_mcp_attack.py): with --namespace B, no command reads, changes or
deletes anything of namespace A, even given A's own ids."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx

from hippograph import Memory
from hippograph.cli import main

from ..test_namespaces import CONFIG, QUESTIONS, fill, ids_of


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_command_of_one_namespace_reaches_another(tmp_path, embedder, extractor, capsys):
    store = tmp_path / "store"
    with Memory(store, CONFIG, embedder=embedder, extractor=extractor) as memory:
        for namespace in ("alice", "bob"):
            fill(memory, namespace)
        diary = memory.add("Mira Holt keeps a diary in Kessel.", id="alice-diary", namespace="alice")
        alice = ids_of(memory, "alice")
        alice_before = dataclasses.asdict(memory.stats("alice"))
    as_bob = ["--store", str(store), "--namespace", "bob"]

    for question in QUESTIONS[:2]:  # each command loads the models again: two questions, not all
        code, out, err = _cli(capsys, "query", question, "-k", "20", "--json", *as_bob)
        assert code == 0, err
        assert not {hit["id"] for hit in json.loads(out)["hits"]} & alice

    code, _, err = _cli(capsys, "note", diary.id, *as_bob)
    assert code == 1 and diary.id in err
    code, _, err = _cli(capsys, "delete", "alice-diary", *as_bob)
    assert code == 1 and "alice-diary" in err
    code, out, _ = _cli(capsys, "add", "Mira Holt keeps a diary in Rome.", "--id", "alice-diary", "--json", *as_bob)
    assert code == 0 and json.loads(out)["namespace"] == "bob"
    code, _, err = _cli(capsys, "graph", "export", "-o", str(tmp_path / "bob.graphml"), *as_bob)
    assert code == 0, err
    assert not set(nx.read_graphml(tmp_path / "bob.graphml").nodes) & alice
    code, out, _ = _cli(capsys, "delete", "--all", *as_bob)
    assert code == 0

    code, out, _ = _cli(capsys, "stats", "--json", "--store", str(store), "--namespace", "alice")
    after = json.loads(out)
    assert {k: after[k] for k in alice_before if k not in ("path", "size_bytes")} == {
        k: v for k, v in alice_before.items() if k not in ("path", "size_bytes")
    }
    with Memory(store, embedder=embedder, extractor=extractor) as memory:
        assert ids_of(memory, "alice") == alice and memory.get(diary.id, namespace="alice").text == diary.text
        assert memory.namespaces() == ["alice"]
