"""Bad input through the Python and command-line doors (REST and MCP: test_rest_attack.py and
test_mcp_attack.py): each case is one clear HippographError (the CLI: exit 1 and one line, no
traceback), and the store holds exactly what it held before, with nothing dangling."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from hippograph import (
    DocumentNotFound,
    HippographError,
    LLMError,
    LLMSettings,
    Memory,
    QueryError,
    SourceError,
    StoreError,
)
from hippograph.cli import main
from hippograph.types import Document

from ..invariants import dangling, records
from ..processes import free_port

HUGE = "word " * 20_001  # over a note's 100,000 characters


def _files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "broken.jsonl": b'{"id": "a", "text": "Nia Park sells kites."}\n{"id": "b", "text": \n',
        "latin1.txt": "Nia Park vend des cerfs-volants à Veloria.".encode("latin-1"),
        "utf16.jsonl": '{"id": "c", "text": "Nia Park sells kites."}\n'.encode("utf-16"),
        "numbers.json": b'[{"text": "Nia Park sells kites."}, 42]',
        "no-text.jsonl": b'{"id": "d", "title": "no text field"}\n',
        "nul.jsonl": b'{"id": "e", "text": "Nia\x00 Park"}\n',
        "export-broken.jsonl": b'{"format": "hippograph-export", "version": 1\n',
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in files}


# (case, Python call on (memory, files), its error, a fragment of its message, CLI args or None)
CASES = [
    ("empty note", lambda m, f: m.add(""), SourceError, "empty", ["add", ""]),
    ("whitespace note", lambda m, f: m.add(" \n\t "), SourceError, "empty", ["add", " \n\t "]),
    ("huge note", lambda m, f: m.add(HUGE), SourceError, "at most 100000 characters", ["add", HUGE]),
    ("note not a string", lambda m, f: m.add(b"bytes"), SourceError, "empty", None),
    (
        "bad time",
        lambda m, f: m.add("Nia Park sells kites.", timestamp="yesterday"),
        SourceError,
        "timestamp",
        ["add", "Nia Park sells kites.", "--time", "yesterday"],
    ),
    (
        "metadata not an object",
        lambda m, f: m.add("Nia Park sells kites.", metadata=[1]),
        SourceError,
        "metadata must be a JSON object",
        None,
    ),
    ("empty namespace", lambda m, f: m.add("Nia Park sells kites.", namespace=" "), SourceError, "namespace", None),
    ("broken JSON line", lambda m, f: m.ingest(f["broken.jsonl"]), SourceError, "line 2", ["ingest", "{broken.jsonl}"]),
    ("latin-1 file", lambda m, f: m.ingest(f["latin1.txt"]), SourceError, "UTF-8", ["ingest", "{latin1.txt}"]),
    ("UTF-16 file", lambda m, f: m.ingest(f["utf16.jsonl"]), SourceError, "utf16.jsonl", ["ingest", "{utf16.jsonl}"]),
    (
        "JSON record not an object",
        lambda m, f: m.ingest(f["numbers.json"]),
        SourceError,
        "record 1",
        ["ingest", "{numbers.json}"],
    ),
    (
        "record without text",
        lambda m, f: m.ingest(f["no-text.jsonl"]),
        SourceError,
        "line 1",
        ["ingest", "{no-text.jsonl}"],
    ),
    ("document text not a string", lambda m, f: m.ingest([Document(42)]), SourceError, "text", None),
    (
        "missing file",
        lambda m, f: m.ingest(Path("no/such/file.jsonl")),
        SourceError,
        "no such file",
        ["ingest", "no/such/file.jsonl"],
    ),
    ("empty query", lambda m, f: m.query("  "), QueryError, "empty", ["query", "  "]),
    ("k of 0", lambda m, f: m.query("Who founded Brightwater Labs?", k=0), QueryError, "k", ["query", "x", "-k", "0"]),
    (
        "huge k",
        lambda m, f: m.query("Who founded Brightwater Labs?", k=10**9),
        None,
        None,
        ["query", "Who founded Brightwater Labs?", "-k", "1000000000"],
    ),
    ("unknown method", lambda m, f: m.query("x", method="magic"), QueryError, "magic", None),
    (
        "bad time window",
        lambda m, f: m.query("x", since="last week"),
        QueryError,
        "since",
        ["query", "x", "--since", "last week"],
    ),
    ("unknown note", lambda m, f: m.get("no-such-note"), DocumentNotFound, "no-such-note", ["note", "no-such-note"]),
    (
        "unknown document",
        lambda m, f: m.delete("no-such-doc"),
        DocumentNotFound,
        "no-such-doc",
        ["delete", "no-such-doc"],
    ),
    ("unknown note to update", lambda m, f: m.update("no-such-note", "x"), DocumentNotFound, "no-such-note", None),
    ("unknown change", lambda m, f: m.revert(10**6), DocumentNotFound, "1000000", None),
    (
        "unknown namespace",
        lambda m, f: m.delete_namespace("TYPO"),
        DocumentNotFound,
        "TYPO",
        ["delete", "--all", "--namespace", "TYPO"],
    ),
    (
        "broken export",
        lambda m, f: m.import_export(f["export-broken.jsonl"]),
        (SourceError, StoreError),
        "",
        ["import", "{export-broken.jsonl}"],
    ),
    ("raw NUL in a JSON line", lambda m, f: m.ingest(f["nul.jsonl"]), SourceError, "line 1", ["ingest", "{nul.jsonl}"]),
    ("import into a store that is not empty", lambda m, f: _import_own_export(m, f), StoreError, "empty", None),
]


def _import_own_export(memory: Memory, files: dict[str, Path]) -> None:
    own = files["broken.jsonl"].with_name("own-export.jsonl")
    memory.export(own)
    memory.import_export(own)


@pytest.fixture
def memory(sample_store, tmp_path, embedder, extractor):
    folder = tmp_path / "store"
    shutil.copytree(sample_store, folder)
    with Memory(folder, embedder=embedder, extractor=extractor) as opened:
        yield opened


def _state(memory: Memory) -> dict:
    stats = dataclasses.asdict(memory.stats())
    return {k: v for k, v in stats.items() if k not in ("path", "size_bytes")}


@pytest.mark.parametrize("case,call,error,message,cli", CASES, ids=[c[0] for c in CASES])
def test_bad_input_through_python_is_one_clear_error_and_changes_nothing(
    memory, tmp_path, case, call, error, message, cli
):
    before = _state(memory)
    if error is None:  # not an error: a k beyond the store gives every passage once
        assert len(call(memory, _files(tmp_path / "input"))) == before["passages"]
    else:
        with pytest.raises(error) as raised:
            call(memory, _files(tmp_path / "input"))
        assert isinstance(raised.value, HippographError)
        assert message in str(raised.value) and "\n" not in str(raised.value).strip()
    assert _state(memory) == before
    assert dangling(records(memory)) == []


CLI_CASES = [c for c in CASES if c[4] is not None]


@pytest.mark.parametrize("case,call,error,message,cli", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_input_through_the_command_line_exits_1_with_one_line(
    memory, tmp_path, capsys, case, call, error, message, cli
):
    files = _files(tmp_path / "input")
    before = _state(memory)
    args = [str(files[arg[1:-1]]) if arg.startswith("{") else arg for arg in cli]  # "{name}": that file
    store = str(memory._store.path.parent)
    code = main([*args, "--store", store])
    err = capsys.readouterr().err.strip()
    if error is None:
        assert code == 0, err
    else:
        assert code == 1
        assert err.startswith("hippograph: error: ") and "\n" not in err and "Traceback" not in err
        assert message in err
    assert _state(memory) == before


def test_an_unreachable_llm_endpoint_is_a_clear_error_through_both_doors(memory, capsys):
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    llm = LLMSettings(base_url=unreachable, model="any", max_retries=0, use_cache=False, timeout=5)
    with Memory(memory._store.path.parent, embedder=memory._embedder, llm=llm) as asking:
        with pytest.raises(LLMError, match="127.0.0.1"):
            asking.answer("Who founded Brightwater Labs?")
    code = main(
        [
            "answer",
            "Who founded Brightwater Labs?",
            "--store",
            str(memory._store.path.parent),
            "--llm-url",
            unreachable,
            "--llm-model",
            "any",
            "--json",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("hippograph: error: ") and "\n" not in err and "127.0.0.1" in err
