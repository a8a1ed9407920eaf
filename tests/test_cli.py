"""The `hippograph` command: output shapes and exit codes, run as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hippograph
from hippograph.cli import main

HIPPOGRAPH = [sys.executable, "-m", "hippograph.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HIPPOGRAPH, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def store(sample_store, tmp_path) -> Path:
    folder = tmp_path / "store"
    shutil.copytree(sample_store, folder)
    return folder


def test_ingest_then_json_query_in_fresh_processes(tmp_path):
    folder = str(tmp_path / "store")
    ingested = run("ingest", str(hippograph.sample_corpus()), "--store", folder, "--quiet")
    assert ingested.returncode == 0, ingested.stderr
    assert "36 added" in ingested.stdout

    again = run("ingest", str(hippograph.sample_corpus()), "--store", folder, "--quiet")
    assert again.returncode == 0 and "36 unchanged" in again.stdout

    queried = run("query", "Where was the founder of Brightwater Labs born?", "--store", folder, "-k", "5", "--json")
    assert queried.returncode == 0, queried.stderr
    result = json.loads(queried.stdout)
    assert len(result["hits"]) == 5
    assert set(result["hits"][0]) >= {"id", "document_id", "title", "text", "score"}
    assert "sample-02" in [h["document_id"] for h in result["hits"]]


def test_text_query_prints_ranked_passages_with_reasons(store, capsys):
    assert main(["query", "Where was the founder of Brightwater Labs born?", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("question names: Brightwater Labs\n")
    assert "1. Brightwater Labs  [sample-01]" in out
    assert out.count("why: ") == 5


def test_stats_and_delete(store, capsys):
    assert main(["stats", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 36
    assert main(["delete", "sample-05", "--store", str(store)]) == 0
    assert "deleted sample-05" in capsys.readouterr().out
    assert main(["stats", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 35


@pytest.mark.parametrize(
    "args,message",
    [
        (["delete", "no-such-doc"], "no document with id 'no-such-doc'"),
        (["ingest", "missing.jsonl"], "no such file or folder: missing.jsonl"),
        (["query", "  "], "the query text is empty"),
        (["ingest"], "nothing to ingest: give one or more PATHs, or --retry-failed"),
        (["answer", "Who founded Brightwater Labs?"], "no LLM endpoint is configured"),
        (["ingest", "x.jsonl", "--extractor", "llm"], "no LLM endpoint is configured"),
    ],
)
def test_errors_exit_non_zero_with_one_line(store, capsys, monkeypatch, args, message):
    for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    assert main([*args, "--store", str(store)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hippograph: error: {message}") and "\n" not in err


def test_store_that_is_a_file_is_an_error(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    assert main(["stats", "--store", str(path)]) == 1
    assert "is a file" in capsys.readouterr().err


def test_reading_commands_do_not_create_a_store(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert main(["query", "anything", "--store", str(missing)]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()


def test_add_note_query_and_delete_a_namespace_from_the_command_line(tmp_path):
    folder = str(tmp_path / "store")
    for namespace, place, time in (
        ("alice", "Paris", "2020-01-01"),
        ("alice", "Berlin", "2022-06-01"),
        ("bob", "Rome", "2021-01-01"),
    ):
        added = run(
            "add",
            f"Mira Holt lives in {place}.",
            "--store",
            folder,
            "--namespace",
            namespace,
            "--time",
            time,
            "--id",
            place.lower(),
            "--json",
        )
        assert added.returncode == 0, added.stderr
        assert place in json.loads(added.stdout)["keywords"]
    then = run(
        "query",
        "Where does Mira Holt live?",
        "--store",
        folder,
        "--namespace",
        "alice",
        "--as-of",
        "2021-01-01",
        "--json",
    )
    assert [h["document_id"] for h in json.loads(then.stdout)["hits"]] == ["paris"]
    now = run("query", "Where does Mira Holt live?", "--store", folder, "--namespace", "alice", "--json")
    assert {h["document_id"] for h in json.loads(now.stdout)["hits"]} == {"paris", "berlin"}
    note_id = json.loads(now.stdout)["hits"][0]["id"]
    shown = run("note", note_id, "--store", folder, "--namespace", "alice")
    assert shown.returncode == 0 and "keywords: Mira Holt" in shown.stdout
    assert run("note", note_id, "--store", folder, "--namespace", "bob").returncode == 1
    assert run("delete", "--all", "--store", folder).returncode == 1  # a namespace must be named
    typo = run("delete", "--all", "--store", folder, "--namespace", "alcie")
    assert typo.returncode == 1 and "namespace 'alcie' holds nothing" in typo.stderr and "'alice'" in typo.stderr
    dropped = run("delete", "--all", "--store", folder, "--namespace", "alice")
    assert dropped.returncode == 0 and "2 document(s)" in dropped.stdout
    stats = json.loads(run("stats", "--store", folder, "--json").stdout)
    assert stats["documents"] == 1


def test_an_empty_input_file_is_named_in_a_warning(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    done = run("ingest", str(empty), "--store", str(tmp_path / "store"), "--quiet")
    assert done.returncode == 0 and "0 added" in done.stdout
    assert f"{empty} holds no records" in done.stderr
