"""The MCP door under attack (the other doors: test_bad_input.py, test_tenancy.py,
test_rest_attack.py): a real `hippograph mcp --namespace alice` process, driven through the MCP
SDK's own stdio client, lets no argument of any tool reach namespace bob's data; every bad input
to every tool is a tool error (isError) with a clear message, the server keeps serving, and the
store is unchanged. Namespace arguments of an unpinned server are tried in this process."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP SDK is not installed (pip install -e '.[mcp]')")

from anyio.from_thread import start_blocking_portal  # noqa: E402
from mcp import Client  # noqa: E402

from hippograph import Memory  # noqa: E402
from hippograph.server.mcp import build_server  # noqa: E402
from hippograph.server.pool import MemoryPool  # noqa: E402
from hippograph.server.rest_models import MAX_METADATA_DEPTH  # noqa: E402

from ..conftest import EVERY_RECORD  # noqa: E402
from ..invariants import comparable, records  # noqa: E402
from ..test_mcp import Session, connected, stdio_server  # noqa: E402
from ..test_namespaces import CONFIG, QUESTIONS, fill, ids_of  # noqa: E402
from .test_hostile_ids import HOSTILE  # noqa: E402

TENANTS_CONFIG = dataclasses.replace(
    CONFIG, synonym_threshold=EVERY_RECORD.synonym_threshold, fact_weight=EVERY_RECORD.fact_weight
)
BOB_ONLY = ("red bench", "Norland", "Rome")  # words of bob's notes that alice's have not
# Values that name, or try to name, namespace bob, given to every argument that takes text.
BOB_LIKE = [
    "bob",
    "bob/",
    "../bob",
    "bob\x00",
    "namespace=bob",
    "' OR namespace = 'bob' --",
    "x}) MATCH (n {namespace: 'bob'}) RETURN n //",
    "*",
    "%",
]
EXTRA = {"namespace": "bob", "ns": "bob", "store": "/tmp/elsewhere", "tenant": "bob"}  # no tool takes these


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder, extractor) -> Path:
    """Namespaces alice and bob: the same people, the same document ids, one identical text
    (tests/test_namespaces.py's `fill`), so that a leak through any of them would show."""
    folder = tmp_path_factory.mktemp("mcp-tenants") / "store"
    with Memory(folder, TENANTS_CONFIG, embedder=embedder, extractor=extractor) as memory:
        for namespace in ("alice", "bob"):
            fill(memory, namespace)
    return folder


@pytest.fixture(scope="module")
def alice(store) -> Iterator[Session]:
    with connected(stdio_server(store, "--namespace", "alice")) as session:
        yield session


def _records(store: Path, embedder, extractor, namespace: str | None = None) -> list[dict]:
    """The store's records (times and vectors aside), of one namespace or all. (Not checked for
    dangling ones: the server writes with the default settings, which keep no fact vectors, and
    `dangling` counts a fact's vector key without its vector as one; a bad call must leave the
    records exactly as they were anyway.)"""
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        found = records(memory)
    return [r for r in comparable(found) if namespace is None or r.get("namespace") == namespace]


def _bob_ids(store: Path, embedder, extractor) -> set[str]:
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        return ids_of(memory, "bob")


def _shows_nothing_of_bob(result_text: str, bob: set[str]) -> bool:
    return not any(word in result_text for word in BOB_ONLY) and not any(note_id in result_text for note_id in bob)


def _text(result) -> str:
    return json.dumps(result.structured_content) if result.structured_content else result.content[0].text


# -- tenancy ------------------------------------------------------------------------------------


def test_no_argument_of_any_tool_reaches_another_namespace(alice, store, embedder, extractor):
    bob = _bob_ids(store, embedder, extractor)
    bob_before = _records(store, embedder, extractor, "bob")
    calls: list[tuple[str, dict[str, Any]]] = []
    for value in BOB_LIKE:
        calls += [
            ("recall", {"query": value}),
            *[("recall", {"query": QUESTIONS[0], time: value}) for time in ("since", "until", "as_of")],
            ("get_note", {"id": value}),
            ("forget", {"note_id": value}),
            ("forget", {"document_id": value}),
            ("remember", {"text": "Quill Arden keeps a diary.", "timestamp": value}),
        ]
    for note_id in bob:  # bob's own ids, as they are, and with bob named in every way a call could
        for tool, arguments in (
            ("get_note", {"id": note_id}),
            ("get_note", {"id": note_id, **EXTRA}),
            ("forget", {"note_id": note_id, **EXTRA}),
        ):
            assert f"no note with id {note_id!r} in namespace 'alice'" in alice.error(tool, **arguments)
    for document_id in ("shared", "n0", "doc"):  # alice has documents of the same ids: bob's stay
        calls += [
            ("forget", {"document_id": f"bob/{document_id}"}),
            ("forget", {"document_id": f"{document_id}\x00bob"}),
        ]
    for question in QUESTIONS:
        calls += [
            ("recall", {"query": question, "k": 1000, **EXTRA}),
            ("recall", {"query": question, "k": 1000, "since": "2019-01-01", "until": "2030-01-01"}),
            ("recall", {"query": question, "k": 1000, "as_of": "2030-01-01"}),
        ]
    calls += [
        ("stats", EXTRA),
        ("remember", {"text": "Quill Arden moved to Norvik.", "metadata": {"namespace": "bob"}, **EXTRA}),
    ]
    for tool, arguments in calls:
        result = alice.call(tool, **arguments)
        assert _shows_nothing_of_bob(_text(result), bob), (tool, arguments, _text(result))
        assert result.is_error or tool in ("recall", "remember", "stats"), (tool, arguments)

    counted = alice.ok("stats", namespace="bob")
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        assert counted["documents"] == memory.stats("alice").documents  # alice's count, not bob's
        remembered = [memory.get(i, namespace="alice") for i in ids_of(memory, "alice")]
    assert {note.metadata.get("namespace") for note in remembered} >= {"bob"}  # stored in alice, as data
    assert _records(store, embedder, extractor, "bob") == bob_before


def test_forgetting_a_shared_document_id_forgets_alices_only(alice, store, embedder, extractor):
    bob_before = _records(store, embedder, extractor, "bob")
    assert alice.ok("forget", document_id="shared", **EXTRA) == {"kind": "document", "id": "shared"}
    assert "no document with id 'shared'" in alice.error("forget", document_id="shared")
    assert _records(store, embedder, extractor, "bob") == bob_before


# -- bad input ----------------------------------------------------------------------------------

NESTED = {"leaf": 1}
for _ in range(MAX_METADATA_DEPTH):
    NESTED = {"inner": NESTED}

CASES = [
    # (case, tool, arguments, a fragment of the message)
    ("empty text", "remember", {"text": ""}, "empty"),
    ("whitespace text", "remember", {"text": " \n\t "}, "empty"),
    ("huge text", "remember", {"text": "word " * 20_001}, "at most 100000 characters"),
    ("text not a string", "remember", {"text": 42}, "text"),
    ("no text", "remember", {}, "text"),
    ("metadata not an object", "remember", {"text": "Ada Quill.", "metadata": ["a"]}, "metadata"),
    (
        "metadata nested too deeply",
        "remember",
        {"text": "Ada Quill.", "metadata": NESTED},
        f"at most {MAX_METADATA_DEPTH}",
    ),
    ("a bad time", "remember", {"text": "Ada Quill.", "timestamp": "last tuesday"}, "ISO 8601"),
    ("a time not a string", "remember", {"text": "Ada Quill.", "timestamp": 20240501}, "timestamp"),
    ("empty query", "recall", {"query": "  "}, "empty"),
    ("no query", "recall", {"k": 3}, "query"),
    ("huge query", "recall", {"query": "x" * 10_001}, "query"),
    ("k of 0", "recall", {"query": QUESTIONS[0], "k": 0}, "k must be"),
    ("negative k", "recall", {"query": QUESTIONS[0], "k": -3}, "k must be"),
    ("k not a number", "recall", {"query": QUESTIONS[0], "k": "five"}, "k"),
    ("k not whole", "recall", {"query": QUESTIONS[0], "k": 2.5}, "k"),
    ("a bad window", "recall", {"query": QUESTIONS[0], "since": "someday"}, "since"),
    ("a huge time", "recall", {"query": QUESTIONS[0], "as_of": "2" * 65}, "as_of"),
    ("unknown note", "get_note", {"id": "no-such-note"}, "no note with id 'no-such-note'"),
    ("empty note id", "get_note", {"id": ""}, "no note with id ''"),
    ("note id not a string", "get_note", {"id": 42}, "id"),
    ("huge note id", "get_note", {"id": "i" * 513}, "id"),
    ("forget nothing", "forget", {}, "give exactly one of note_id or document_id"),
    ("forget both", "forget", {"note_id": "a", "document_id": "b"}, "give exactly one of note_id or document_id"),
    ("unknown note to forget", "forget", {"note_id": "no-such-note"}, "no note with id 'no-such-note'"),
    ("unknown document to forget", "forget", {"document_id": "no-such-doc"}, "no document with id 'no-such-doc'"),
    ("hostile ids to forget", "forget", {"document_id": "'); DROP TABLE passages; --"}, "no document with id"),
    ("an id not a string", "forget", {"note_id": ["a"]}, "note_id"),
    ("unknown tool", "delete_namespace", {"namespace": "bob"}, "Unknown tool"),
]


@pytest.mark.parametrize("case,tool,arguments,message", CASES, ids=[c[0] for c in CASES])
def test_a_bad_call_is_a_tool_error_and_changes_nothing(
    alice, store, embedder, extractor, case, tool, arguments, message
):
    before = _records(store, embedder, extractor)
    error = alice.error(tool, **arguments)
    assert message in error and "Traceback" not in error
    assert alice.ok("stats")["documents"] > 0  # still serving
    assert _records(store, embedder, extractor) == before


def test_a_time_that_leaves_the_calendar_in_utc_is_named(alice):
    assert "timestamp" in alice.error("remember", text="Ada Quill.", timestamp="0001-01-01T00:00:00+01:00")


# -- an unpinned server: the namespace argument ----------------------------------------------------


@pytest.fixture
def unpinned(tmp_path, embedder, extractor) -> Iterator[Session]:
    """An unpinned server over a store of alice's notes, in this process (the SDK's in-memory
    transport): here the namespace is an argument, so bad namespaces are input."""
    folder = tmp_path / "store"
    with Memory(folder, TENANTS_CONFIG, embedder=embedder, extractor=extractor) as memory:
        fill(memory, "alice")
    pool = MemoryPool(lambda: Memory(folder, TENANTS_CONFIG, embedder=embedder, extractor=extractor))
    try:
        with start_blocking_portal() as portal:
            with portal.wrap_async_context_manager(Client(build_server(pool))) as client:
                yield Session(portal, client)
    finally:
        pool.close()


@pytest.mark.parametrize(
    "namespace,message",
    [(" ", "a namespace is a non-empty string"), ("n" * 513, "namespace"), (7, "namespace"), (["bob"], "namespace")],
)
def test_a_bad_namespace_is_a_tool_error(unpinned, namespace, message):
    before = unpinned.ok("stats")
    for tool, arguments in (
        ("remember", {"text": "Ada Quill."}),
        ("recall", {"query": QUESTIONS[0]}),
        ("get_note", {"id": "n0"}),
        ("forget", {"document_id": "n0"}),
        ("stats", {}),
    ):
        assert message in unpinned.error(tool, **arguments, namespace=namespace), tool
    assert unpinned.ok("stats") == before


def test_hostile_namespace_names_are_only_names(unpinned):
    before = unpinned.ok("stats")
    for value in HOSTILE:
        note = unpinned.ok("remember", text=f"Ada Quill lives in {value!r}.", namespace=value)
        assert note["namespace"] == value
        assert unpinned.ok("get_note", id=note["id"], namespace=value)["text"] == note["text"]
        assert [
            hit["id"]
            for hit in unpinned.ok("recall", query="Where does Ada Quill live?", k=50, namespace=value)["hits"]
        ] == [note["id"]]
        assert "no note" in unpinned.error("get_note", id=note["id"], namespace="alice")
        assert unpinned.ok("forget", note_id=note["id"], namespace=value) == {"kind": "note", "id": note["id"]}
    after = unpinned.ok("stats")
    assert {**after, "size_bytes": 0} == {**before, "size_bytes": 0}
