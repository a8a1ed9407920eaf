"""`hippograph mcp`: real server processes driven through the MCP SDK's own stdio and HTTP clients."""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

import pytest

pytest.importorskip("mcp", reason="the MCP SDK is not installed (pip install -e '.[mcp]')")

from anyio.from_thread import BlockingPortal, start_blocking_portal  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.types import CallToolResult, Tool  # noqa: E402

from hippograph import Memory  # noqa: E402
from hippograph.cli import main  # noqa: E402
from hippograph.server.mcp import build_server  # noqa: E402

from .processes import stop  # noqa: E402

SERVER = [sys.executable, "-m", "hippograph.cli", "mcp"]
DEMO = "Where was the founder of Brightwater Labs born?"
TIMEOUT = 300  # seconds: a server loads its models before it answers


def server_env() -> dict[str, str]:
    """The test's environment, offline, with no store or namespace default leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in ("HIPPOGRAPH_NAMESPACE", "HIPPOGRAPH_STORE")}
    return {**env, "HF_HUB_OFFLINE": "1"}


class Session:
    """A connected MCP client, called from synchronous tests through a portal to its event loop."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return self.portal.call(self.client.call_tool, tool, arguments)

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        result = self.call(tool, **arguments)
        assert not result.is_error, result.content
        return result.structured_content

    def error(self, tool: str, **arguments: Any) -> str:
        """The message of a call that must fail as a tool error (not a protocol error)."""
        result = self.call(tool, **arguments)
        assert result.is_error, result.structured_content
        return result.content[0].text

    def tools(self) -> dict[str, Tool]:
        return {tool.name: tool for tool in self.portal.call(self.client.list_tools).tools}


@contextmanager
def connected(server: StdioServerParameters | str) -> Iterator[Session]:
    """A client session with a server: a command it starts (stdio) or an HTTP endpoint URL."""
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(server, read_timeout_seconds=TIMEOUT)) as client:
            yield Session(portal, client)


def stdio_server(store: Path, *options: str) -> StdioServerParameters:
    """`hippograph mcp --store STORE OPTIONS` as a subprocess speaking MCP on its stdin and stdout."""
    return StdioServerParameters(
        command=SERVER[0], args=[*SERVER[1:], "--store", str(store), *options], env=server_env()
    )


def hit_texts(recalled: dict[str, Any]) -> list[str]:
    return [hit["text"] for hit in recalled["hits"]]


def copied(sample_store: Path, folder: Path) -> Path:
    shutil.copytree(sample_store, folder)
    return folder


# -- one writable server, every tool ------------------------------------------------------------


@pytest.fixture(scope="module")
def store(sample_store, tmp_path_factory) -> Path:
    return copied(sample_store, tmp_path_factory.mktemp("mcp") / "store")


@pytest.fixture(scope="module")
def memory(store) -> Iterator[Session]:
    with connected(stdio_server(store)) as session:
        yield session


def test_server_names_itself_and_tells_the_agent_what_it_is_for(memory):
    assert memory.client.server_info.name == "hippograph"
    assert all(f"`{tool}`" in memory.client.instructions for tool in ("recall", "remember", "forget"))
    assert "Namespaces" in memory.client.instructions


def test_tools_have_the_documented_inputs_and_output_schemas(memory):
    tools = memory.tools()
    expected = {
        "remember": ({"text", "namespace", "timestamp", "metadata"}, ["text"]),
        "recall": ({"query", "k", "namespace", "since", "until", "as_of"}, ["query"]),
        "get_note": ({"id", "namespace"}, ["id"]),
        "forget": ({"note_id", "document_id", "namespace"}, []),
        "stats": ({"namespace"}, []),
    }
    assert set(tools) == set(expected)
    for name, (properties, required) in expected.items():
        schema = tools[name].input_schema
        assert set(schema["properties"]) == properties, name
        assert schema.get("required", []) == required, name
        assert tools[name].description and tools[name].output_schema, name
    assert tools["recall"].input_schema["properties"]["k"]["default"] == 5
    assert tools["recall"].annotations.read_only_hint and tools["forget"].annotations.destructive_hint


def test_recall_answers_the_multi_hop_demo_question(memory):
    recalled = memory.ok("recall", query=DEMO, k=3)
    assert len(recalled["hits"]) == 3
    assert any("born in Veloria" in text for text in hit_texts(recalled)), hit_texts(recalled)
    assert {"id", "document_id", "text", "score", "why"} <= set(recalled["hits"][0])


def test_remember_then_recall_and_get_note(memory):
    note = memory.ok(
        "remember",
        text="Quentin Vale keeps three beehives on the roof of the Orlan city library.",
        timestamp="2024-05-01T09:30:00+02:00",
        metadata={"source": "chat"},
    )
    assert note["created_at"].startswith("2024-05-01T07:30:00") and note["metadata"] == {"source": "chat"}
    assert note["keywords"] and isinstance(note["links"], list)

    recalled = memory.ok("recall", query="Who keeps bees at the Orlan library?", k=3)
    assert note["id"] in [hit["id"] for hit in recalled["hits"]]
    earlier = memory.ok("recall", query="Who keeps bees at the Orlan library?", until="2024-04-30")
    assert note["id"] not in [hit["id"] for hit in earlier["hits"]]

    fetched = memory.ok("get_note", id=note["id"])
    assert fetched["text"] == note["text"] and fetched["namespace"] == "default"


def test_forget_by_note_id_and_by_document_id(memory):
    before = memory.ok("stats")
    first = memory.ok("remember", text="Ilse Marr parks her red bicycle behind the Tannery Street bakery.")
    second = memory.ok("remember", text="Ilse Marr's bicycle was stolen from Tannery Street in March.")
    assert memory.ok("stats")["documents"] == before["documents"] + 2

    assert memory.ok("forget", note_id=first["id"]) == {"kind": "note", "id": first["id"]}
    assert "no note with id" in memory.error("get_note", id=first["id"])
    assert memory.ok("forget", document_id=second["document_id"]) == {"kind": "document", "id": second["document_id"]}
    assert "no note with id" in memory.error("get_note", id=second["id"])

    after = memory.ok("stats")
    assert (after["documents"], after["passages"]) == (before["documents"], before["passages"])


def test_stats_of_one_namespace_and_of_the_whole_store(memory):
    memory.ok("remember", text="Odile Brack teaches the cello in Marrowgate.", namespace="odile")
    assert memory.ok("stats", namespace="odile")["documents"] == 1
    assert memory.ok("stats")["documents"] == memory.ok("stats", namespace="default")["documents"] + 1
    assert "Odile" in memory.ok("recall", query="Who teaches the cello?", namespace="odile")["hits"][0]["text"]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("remember", {"text": "   "}, "a note's text is empty"),
        ("recall", {"query": DEMO, "k": 0}, "k must be a whole number of at least 1"),
        ("recall", {"query": DEMO, "since": "not a time"}, "since"),
        ("get_note", {"id": "no-such-note"}, "no note with id 'no-such-note'"),
        ("forget", {"note_id": "no-such-note"}, "no note with id 'no-such-note'"),
        ("forget", {"document_id": "no-such-document"}, "no document with id 'no-such-document'"),
        ("forget", {}, "give exactly one of note_id or document_id"),
        ("forget", {"note_id": "a", "document_id": "b"}, "give exactly one of note_id or document_id"),
    ],
)
def test_a_bad_call_is_a_tool_error_with_the_message_and_the_server_keeps_serving(memory, tool, arguments, message):
    error = memory.error(tool, **arguments)
    assert message in error and "\n" not in error
    assert memory.ok("stats")["documents"] > 0


def test_a_call_that_breaks_the_input_schema_is_a_tool_error_too(memory):
    assert "query" in memory.error("recall", k=2)
    assert "metadata" in memory.error("remember", text="A note.", metadata=["not", "an", "object"])
    assert memory.ok("stats")["documents"] > 0


SECRET = "/srv/private/keys.txt"  # what a bug's message might show: it must not reach the agent


class _BrokenPool:
    """A test double, the only one in this file: a pool whose memory fails every call with a
    plain RuntimeError, as a bug would. Nothing real fails that way on purpose."""

    def reading(self) -> nullcontext:
        return nullcontext(self)

    writing = reading

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            raise RuntimeError(f"{name} failed reading {SECRET}")

        return fail


def test_a_bug_is_a_tool_error_without_its_text_and_its_traceback_goes_to_the_log(caplog):
    calls = {
        "remember": {"text": "Ana sings."},
        "recall": {"query": "Who sings?"},
        "get_note": {"id": "n1"},
        "forget": {"note_id": "n1"},
        "stats": {},
    }
    with caplog.at_level(logging.ERROR, logger="hippograph.server.mcp"), start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(build_server(_BrokenPool()))) as client:  # in this process
            session = Session(portal, client)
            for tool, arguments in calls.items():
                error = session.error(tool, **arguments)
                assert error.endswith("internal error; see the server log") and SECRET not in error, error
    failures = [record for record in caplog.records if record.exc_info]
    assert [record.getMessage() for record in failures] == [f"tool {tool} failed" for tool in calls]
    assert all(SECRET in str(record.exc_info[1]) for record in failures) and "Traceback" in caplog.text


# -- a server pinned to one namespace -----------------------------------------------------------


@pytest.fixture(scope="module")
def bob_note(sample_store, tmp_path_factory, embedder, extractor) -> tuple[Path, dict[str, Any]]:
    """A store with the sample corpus (namespace "default") and one note of namespace "bob"."""
    folder = copied(sample_store, tmp_path_factory.mktemp("mcp-alice") / "store")
    with Memory(folder, embedder=embedder, extractor=extractor) as memory:
        note = memory.add("Bob Ferrant's locker code at the Halden gym is 4711.", namespace="bob")
    return folder, note.to_dict()


@pytest.fixture(scope="module")
def alice(bob_note) -> Iterator[Session]:
    with connected(stdio_server(bob_note[0], "--namespace", "alice")) as session:
        yield session


def test_pinned_tools_take_no_namespace(alice):
    tools = alice.tools()
    assert set(tools) == {"remember", "recall", "get_note", "forget", "stats"}
    for tool in tools.values():
        assert "namespace" not in tool.input_schema["properties"], tool.name
    assert "Namespaces" not in alice.client.instructions  # the agent has no namespace to choose


def test_pinned_server_cannot_read_or_delete_another_namespace(alice, bob_note, embedder, extractor):
    folder, bob = bob_note
    assert "no note with id" in alice.error("get_note", id=bob["id"])
    assert "no note with id" in alice.error("get_note", id=bob["id"], namespace="bob")  # an argument it ignores
    assert "no note with id" in alice.error("forget", note_id=bob["id"], namespace="bob")
    assert "no document with id" in alice.error("forget", document_id=bob["document_id"])
    assert alice.ok("recall", query="What is Bob Ferrant's locker code?", namespace="bob")["hits"] == []
    assert not any("Veloria" in text for text in hit_texts(alice.ok("recall", query=DEMO)))  # nor "default"
    with Memory(folder, create=False, embedder=embedder, extractor=extractor) as memory:
        assert memory.get(bob["id"], namespace="bob").text == bob["text"]


def test_pinned_server_writes_and_reads_its_own_namespace(alice, bob_note, embedder, extractor):
    note = alice.ok("remember", text="Alice Renner's favourite tea is smoked lapsang from Kettleby.")
    assert note["namespace"] == "alice"
    assert alice.ok("recall", query="Which tea does Alice Renner like?")["hits"][0]["id"] == note["id"]
    assert alice.ok("stats")["documents"] == 1
    with Memory(bob_note[0], create=False, embedder=embedder, extractor=extractor) as memory:
        assert memory.get(note["id"], namespace="alice").text == note["text"]


# -- a read-only server over streamable HTTP ----------------------------------------------------


@pytest.fixture(scope="module")
def read_only_store(sample_store, tmp_path_factory) -> Path:
    return copied(sample_store, tmp_path_factory.mktemp("mcp-read-only") / "store")


@pytest.fixture(scope="module")
def http_url(read_only_store) -> Iterator[str]:
    """The endpoint URL a read-only HTTP server printed; it listens on a free port of 127.0.0.1."""
    process = subprocess.Popen(
        [*SERVER, "--store", str(read_only_store), "--read-only", "--http", "127.0.0.1:0"],
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    # The pipe is drained all along, so that a chatty server never blocks on a full stderr.
    threading.Thread(target=_read_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        url = _printed_url(process, lines)
        yield url
    finally:
        stop(process)
    assert process.stdout.read() == ""  # nothing but the protocol may use stdout, and HTTP does not


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # the server closed stderr: it exited


def _printed_url(process: subprocess.Popen, lines: queue.Queue[str | None]) -> str:
    seen = []
    while True:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"the server printed no URL in {TIMEOUT} s: {''.join(seen)}")
        if line is None:
            pytest.fail(f"the server exited with {process.wait()}: {''.join(seen)}")
        seen.append(line)
        if " at http://" in line:
            return line.rsplit(" at ", 1)[1].strip()


@pytest.fixture(scope="module")
def read_only(http_url) -> Iterator[Session]:
    with connected(http_url) as session:
        yield session


def test_http_server_listens_where_it_was_told_and_prints_its_endpoint(http_url):
    assert http_url.startswith("http://127.0.0.1:") and http_url.endswith("/mcp")


def test_http_recall_answers_the_demo_question(read_only):
    recalled = read_only.ok("recall", query=DEMO, k=3)
    veloria = [hit for hit in recalled["hits"] if "born in Veloria" in hit["text"]]
    assert veloria, hit_texts(recalled)
    assert read_only.ok("get_note", id=veloria[0]["id"])["text"] == veloria[0]["text"]


def test_read_only_offers_reads_only_and_leaves_the_store_unchanged(
    read_only, read_only_store, sample_store, embedder, extractor
):
    assert set(read_only.tools()) == {"recall", "get_note", "stats"}
    assert "`recall`" in read_only.client.instructions and "`remember`" not in read_only.client.instructions
    before = read_only.ok("stats")
    assert "remember" in read_only.error("remember", text="Mallory was here.")
    assert "forget" in read_only.error("forget", document_id="anything")
    assert read_only.ok("stats") == before
    with (
        Memory(read_only_store, create=False, embedder=embedder, extractor=extractor) as memory,
        Memory(sample_store, create=False, embedder=embedder, extractor=extractor) as original,
    ):
        assert (memory.stats().documents, memory.stats().passages) == (
            original.stats().documents,
            original.stats().passages,
        )


# -- refused at start, before any model loads ---------------------------------------------------


@pytest.mark.parametrize("address", ["8000", "localhost:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_bad_http_address_is_refused(address, tmp_path, capsys):
    assert main(["mcp", "--store", str(tmp_path / "store"), "--http", address]) == 1
    assert "hippograph: error: --http takes HOST:PORT" in capsys.readouterr().err


def test_a_taken_port_is_refused(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["mcp", "--store", str(tmp_path / "store"), "--http", f"127.0.0.1:{port}"]) == 1
    assert f"hippograph: error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_read_only_never_creates_a_store(tmp_path, capsys):
    assert main(["mcp", "--store", str(tmp_path / "missing"), "--read-only"]) == 1
    assert "hippograph: error: no store at" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
