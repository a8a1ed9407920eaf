"""`hippograph mcp`: the memory as MCP tools (remember, recall, get_note, forget, stats) for agents.

A thin layer over `Memory` through a `MemoryPool`, built on the official MCP Python SDK (v2):
stdio by default, streamable HTTP with `--http HOST:PORT`. `--namespace` pins every tool to one
namespace (the tools then take no namespace argument); `--read-only` offers recall, get_note and
stats only. A failing call comes back as a tool error (isError) carrying hippograph's message;
an argument that does not fit (a wrong type, over the REST server's limits, metadata nested too
deeply) is refused before any work, and a bug is "internal error; see the server log", its
traceback in the server's log, as over REST.
"""

import argparse
import contextlib
import functools
import inspect
import logging
import socket
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from ..errors import ConfigError, HippographError, missing_extra
from ..memory import MAX_NOTE_CHARACTERS
from ..types import Note, Stats
from .pool import MemoryPool
from .rest_models import MAX_ID_CHARACTERS, MAX_METADATA_DEPTH, MAX_QUERY_CHARACTERS, MAX_TIME_CHARACTERS, depth

try:
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import AfterValidator, Field
    from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only on Python 3.12+
except ImportError as err:
    raise missing_extra("mcp", err) from err

__all__ = ["build_server", "main"]

log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # --http on any other address serves the memory beyond this machine
INTERNAL_ERROR = "internal error; see the server log"

# What the agent reads about the server; the lines on writing and namespaces only where they apply.
ABOUT = (
    "hippograph is a long-term memory: notes (facts, observations, chat turns) linked into a knowledge "
    "graph and searched by multi-hop retrieval (Personalized PageRank), so that a question finds a passage "
    'that shares no words with it ("Where was the founder of X born?").'
)
READING = (
    "- Before answering about the user, past conversations or stored documents, call `recall` with the "
    "question in plain words, and cite what you use by note id. `get_note` shows a note with its keywords, "
    "tags and links; `stats` counts what the memory holds."
)
WRITING = (
    "- When you learn something worth keeping across sessions, call `remember` with one self-contained "
    'statement (name people and things; no "he" or "it"), with a timestamp if it happened at a known time. '
    "`forget` deletes a note, or a document with all its notes, for good."
)
NAMESPACES = "- Namespaces are separate memories in one store (e.g. one per user); the default is 'default'."


def _shallow(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Metadata nested at most MAX_METADATA_DEPTH deep, as the REST server takes it: deeper, the
    note would be stored, and then its result (and every later one that shows it) fail to serialize."""
    nesting = depth(metadata)
    if nesting > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata nests objects and lists {nesting} deep; at most {MAX_METADATA_DEPTH}")
    return metadata


# Parameter types: their descriptions are what the agent reads in the input schemas. Their limits
# are the REST server's, so that an agent can send nothing a REST client could not.
_ISO = "ISO 8601, e.g. 2024-05-01 or 2024-05-01T13:56:00+02:00 (no zone: UTC)"
_Id = functools.partial(Field, max_length=MAX_ID_CHARACTERS)
_Time = functools.partial(Field, max_length=MAX_TIME_CHARACTERS)
Text = Annotated[
    str,
    Field(
        description="What to remember: one self-contained statement (name people and things), "
        f"at most {MAX_NOTE_CHARACTERS:,} characters."
    ),
]
Query = Annotated[
    str,
    Field(
        max_length=MAX_QUERY_CHARACTERS,
        description=("A question or topic in plain words, e.g. 'Where was the founder of Brightwater Labs born?'."),
    ),
]
K = Annotated[int, Field(description="How many notes to return, at least 1.")]
NoteId = Annotated[str, _Id(description="A note id, as remember or recall gave it.")]
Namespace = Annotated[
    str | None, _Id(description="The memory within the store to use (e.g. one per user or project); default 'default'.")
]
Timestamp = Annotated[str | None, _Time(description=f"When it was said or happened, {_ISO}; default now.")]
Metadata = Annotated[
    dict[str, Any] | None,
    AfterValidator(_shallow),
    Field(
        description='Any JSON object kept with the note, e.g. {"source": "chat"}; '
        f"nested at most {MAX_METADATA_DEPTH} deep."
    ),
]
Since = Annotated[str | None, _Time(description=f"Only notes from this time on; {_ISO}.")]
Until = Annotated[str | None, _Time(description=f"Only notes up to this time; {_ISO}.")]
AsOf = Annotated[
    str | None, _Time(description=f"Search the memory as it was then: notes written by then, facts valid then; {_ISO}.")
]
ForgetNote = Annotated[str | None, _Id(description="The id of the note to delete, as remember or recall gave it.")]
ForgetDocument = Annotated[
    str | None, _Id(description="The id of a document to delete with all its notes (a hit's or note's document_id).")
]
StatsNamespace = Annotated[str | None, _Id(description="Count one namespace only; default: the whole store.")]


class HitRecord(TypedDict):
    """One retrieved note, best first (the shape of `hippograph query --json`)."""

    id: str
    document_id: str
    title: str
    text: str
    score: float
    time: str | None
    why: str


class Recalled(TypedDict):
    """The notes that best answer a query, best first; empty when nothing matches."""

    hits: list[HitRecord]


class Forgotten(TypedDict):
    """What was deleted."""

    kind: Literal["note", "document"]
    id: str


def build_server(pool: MemoryPool, *, namespace: str | None = None, read_only: bool = False) -> MCPServer:
    """An MCP server named "hippograph" whose tools call the pool's memories: reads share
    memories, writes take turns. With `namespace`, every tool works in it and takes no namespace
    argument; with `read_only`, only recall, get_note and stats are offered."""

    def remember(
        text: Text, namespace: Namespace = None, timestamp: Timestamp = None, metadata: Metadata = None
    ) -> Note:
        """Store one memory (a fact, an observation, a chat turn) as a note and return it.

        The note is extracted into the knowledge graph, embedded and linked to related notes at
        once; the result shows its id (use it with get_note and forget), keywords, tags and links.
        Storing the same text with the same timestamp and metadata again returns the stored note.
        """
        with pool.writing() as memory:
            return memory.add(text, namespace=namespace, timestamp=timestamp, metadata=metadata)

    def recall(
        query: Query,
        k: K = 5,
        namespace: Namespace = None,
        since: Since = None,
        until: Until = None,
        as_of: AsOf = None,
    ) -> Recalled:
        """Find the k notes that best answer a question, best first, each with its id, text,
        score and `why` (the entities and facts that led to it).

        Retrieval follows the knowledge graph, so it finds multi-hop answers ("the founder of X
        was born in Y") that word overlap misses. Ask in plain words; narrow by time with
        since/until, or see the past with as_of.
        """
        with pool.reading() as memory:
            hits = memory.query(query, k, namespace=namespace, since=since, until=until, as_of=as_of)
        return {"hits": [hit.to_dict() for hit in hits]}

    def get_note(id: NoteId, namespace: Namespace = None) -> Note:
        """A stored note by id: its text, document, time, keywords, tags, context, metadata and
        its links to related notes (each with the linked note's id, kind, reason and weight)."""
        with pool.reading() as memory:
            return memory.get(id, namespace=namespace)

    def forget(
        note_id: ForgetNote = None, document_id: ForgetDocument = None, namespace: Namespace = None
    ) -> Forgotten:
        """Delete a note (give note_id) or a whole document with all its notes (give
        document_id), exactly one of the two, with the entities and facts only it supported.
        This cannot be undone."""
        if (note_id is None) == (document_id is None):
            raise ToolError("give exactly one of note_id or document_id")
        with pool.writing() as memory:
            if note_id is not None:
                memory.delete_note(note_id, namespace=namespace)
                return {"kind": "note", "id": note_id}
            memory.delete(document_id, namespace=namespace)
            return {"kind": "document", "id": document_id}

    def stats(namespace: StatsNamespace = None) -> Stats:
        """Counts of what the memory holds: documents, passages (notes), entities, facts, links,
        and the store's path and size in bytes."""
        with pool.reading() as memory:
            return memory.stats(namespace)

    instructions = [ABOUT, READING, *([] if read_only else [WRITING]), *([NAMESPACES] if namespace is None else [])]
    server = MCPServer("hippograph", instructions="\n".join(instructions))
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    tools = [(recall, reads), (get_note, reads), (stats, reads)]
    if not read_only:
        tools += [
            (remember, ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)),
            (
                forget,
                ToolAnnotations(
                    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
                ),
            ),
        ]
    for tool, annotations in tools:
        tool = _reported(tool)
        server.add_tool(tool if namespace is None else _pinned(tool, namespace), annotations=annotations)
    return server


def _reported(tool: _F) -> _F:
    """The tool with hippograph's errors raised as `ToolError`, so that the SDK sends the agent
    their message; any other exception is a bug, logged with its traceback, and the agent told
    only INTERNAL_ERROR (its text could show paths, code or another namespace's data)."""

    @functools.wraps(tool)
    def call(**arguments: Any) -> Any:
        try:
            return tool(**arguments)
        except HippographError as err:
            raise ToolError(str(err)) from err
        except ToolError:
            raise
        except Exception as err:
            log.exception("tool %s failed", tool.__name__)
            raise ToolError(INTERNAL_ERROR) from err

    return call  # type: ignore[return-value]


def _pinned(tool: _F, namespace: str) -> _F:
    """The tool always called with `namespace`, its signature (hence its input schema) without
    that parameter, so that the agent can neither see nor choose another namespace."""
    signature = inspect.signature(tool, eval_str=True)

    @functools.wraps(tool)
    def call(**arguments: Any) -> Any:
        return tool(**arguments, namespace=namespace)

    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "namespace"]
    )
    return call  # type: ignore[return-value]


def parse_address(value: str) -> tuple[str, int]:
    """HOST and PORT of "HOST:PORT" ("[::1]:8000" for IPv6; port 0: any free port)."""
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--http takes HOST:PORT, e.g. 127.0.0.1:8000, not {value!r}")
    return host, int(port)


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on exactly HOST:PORT, bound now so that a taken port fails at start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err


async def _serve_http(server: MCPServer, listening: socket.socket, host: str, verbose: bool) -> None:
    import uvicorn  # a dependency of the mcp SDK

    port = listening.getsockname()[1]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/mcp"
    # log_config=None: uvicorn logs through the root logger (stderr), not its own stdout handler.
    config = uvicorn.Config(
        server.streamable_http_app(host=host), log_config=None, log_level="info" if verbose else "warning"
    )
    if host not in LOOPBACK:
        log.warning("serving %s with no authentication: whoever reaches it can use the memory", url)
    http = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(functools.partial(http.serve, sockets=[listening]))
        # Told once uvicorn serves (and handles SIGTERM and Ctrl+C), not before.
        while not (http.started or http.should_exit):
            await anyio.sleep(0.05)
        if http.started:
            print(f"hippograph mcp: serving MCP (streamable HTTP) at {url}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    """Serve the store of `args.store` until the client goes away (stdio) or Ctrl+C (HTTP)."""
    if args.namespace is not None and not args.namespace.strip():
        raise ConfigError("--namespace is empty")
    address = parse_address(args.http) if args.http else None
    with contextlib.ExitStack() as stack:
        listening = stack.enter_context(_listen(*address)) if address else None
        # Loading models may print; on stdio, stdout is the protocol channel, so that goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            pool = MemoryPool.open(args.store, read_only=args.read_only)
        stack.callback(pool.close)
        server = build_server(pool, namespace=args.namespace, read_only=pool.read_only)
        try:
            if listening is None:
                log.info("serving MCP on stdio over %s", args.store)
                anyio.run(server.run_stdio_async)
            else:
                anyio.run(_serve_http, server, listening, address[0], getattr(args, "verbose", False))
        except KeyboardInterrupt:  # Ctrl+C is how a server is stopped
            pass
    return 0
