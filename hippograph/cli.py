"""The `hippograph` command: ingest, query, answer, stats and delete on a store; serve it over REST or MCP."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import os
import sys
from pathlib import Path

from .config import Config
from .errors import ConfigError, HippographError, SourceError
from .extract import PrecomputedExtractor
from .graph.export import write_graph
from .llm import LLMSettings
from .memory import EXTRACTORS, METHODS, Memory


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hippograph", description="A graph-based knowledge memory.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_store(
        command: argparse.ArgumentParser, namespaced: bool = True, reads: bool = False
    ) -> argparse.ArgumentParser:
        default = os.environ.get("HIPPOGRAPH_STORE")
        command.add_argument(
            "--store",
            default=default,
            required=default is None,
            help="store folder, or a graph server's URI such as bolt://host:7687 (user, password "
            "and database from $NEO4J_USERNAME, $NEO4J_PASSWORD, $NEO4J_DATABASE; "
            "default: $HIPPOGRAPH_STORE)",
        )
        if namespaced:
            command.add_argument(
                "--namespace",
                default=os.environ.get("HIPPOGRAPH_NAMESPACE"),
                help="the memory within the store to use (default: $HIPPOGRAPH_NAMESPACE, else 'default')",
            )
        if reads:
            command.add_argument(
                "--read-only",
                action="store_true",
                help="open the store without writing anything to its folder (a snapshot, a shared "
                "or read-only folder; a folder that cannot be written is opened so anyway)",
            )
        return command

    def with_time_window(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = command.add_argument_group("time (ISO 8601, e.g. 2024-05-01 or 2024-05-01T13:56:00+02:00)")
        group.add_argument("--since", help="only notes from this time on")
        group.add_argument("--until", help="only notes up to this time")
        group.add_argument("--as-of", dest="as_of", help="the memory as it was then: notes written and facts valid")
        return command

    def with_llm(command: argparse.ArgumentParser, notes: bool = False) -> argparse.ArgumentParser:
        group = command.add_argument_group("LLM endpoint (any OpenAI-compatible server)")
        if notes:
            group.add_argument(
                "--llm-notes",
                action="store_true",
                help="the LLM writes each new note's keywords, tags and context and chooses its "
                "links (two cached calls per note; see Config.llm_notes)",
            )
        group.add_argument("--llm-url", help="base URL, e.g. http://127.0.0.1:8080/v1 (default: $OPENAI_BASE_URL)")
        group.add_argument("--llm-model", help="model name (default: $HIPPOGRAPH_LLM_MODEL)")
        group.add_argument("--llm-concurrency", type=int, help="calls in flight at once (default 4)")
        group.add_argument("--llm-timeout", type=float, help="seconds to wait for one answer (default 120)")
        return command

    ingest = with_llm(
        with_store(commands.add_parser("ingest", help="add .jsonl/.json/.txt/.md files or folders")), notes=True
    )
    ingest.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--triples",
        type=Path,
        metavar="FILE",
        help="import extracted triples (JSONL by id, or HippoRAG OpenIE JSON) instead of running spaCy",
    )
    ingest.add_argument(
        "--extractor",
        choices=EXTRACTORS,
        help="spacy (offline; the default) or llm (OpenIE by the configured LLM, cached); "
        "--retry-failed alone defaults to llm",
    )
    ingest.add_argument(
        "--retry-failed",
        action="store_true",
        help="extract again the passages whose extraction failed (after ingesting PATHs, if any)",
    )

    add = with_llm(
        with_store(commands.add_parser("add", help="store one memory (a chat turn, an observation) as a note")),
        notes=True,
    )
    add.add_argument("text")
    add.add_argument("--time", help="when it was said, ISO 8601 (default: now)")
    add.add_argument("--id", help="the note's id in its namespace (default: a hash of text and time)")
    add.add_argument("--json", action="store_true", help="print the stored note as JSON")

    note = with_store(commands.add_parser("note", help="show a note: attributes, links and history"), reads=True)
    note.add_argument("note_id")
    note.add_argument("--json", action="store_true")

    query = with_time_window(
        with_store(commands.add_parser("query", help="retrieve the passages that answer a question"), reads=True)
    )
    query.add_argument("text")
    query.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    query.add_argument("--method", choices=METHODS, default="hippograph")
    query.add_argument("--json", action="store_true", help="print one JSON object with a 'hits' list")

    answer = with_time_window(
        with_llm(
            with_store(
                commands.add_parser("answer", help="answer a question with the LLM, citing passages"), reads=True
            )
        )
    )
    answer.add_argument("text")
    answer.add_argument("-k", type=int, default=5, help="passages given to the LLM (default 5)")
    answer.add_argument("--method", choices=METHODS, default="hippograph")
    answer.add_argument("--json", action="store_true", help="print one JSON object: answer, citations, hits")

    stats = with_store(commands.add_parser("stats", help="count what the store holds"), reads=True)
    stats.add_argument("--json", action="store_true")

    delete = with_store(commands.add_parser("delete", help="delete a document (or note) and all only it supported"))
    delete.add_argument("document_id", nargs="?", help="a document id, or the id given to `add`")
    delete.add_argument("--all", action="store_true", help="delete the whole namespace instead")

    export = with_store(
        commands.add_parser("export", help="write the whole store (all namespaces) to a JSON-lines file"),
        namespaced=False,
        reads=True,
    )
    export.add_argument("-o", "--output", type=Path, help="the file to write (default: standard output)")

    load = with_store(
        commands.add_parser("import", help="read a file `hippograph export` wrote into an empty store"),
        namespaced=False,
    )
    load.add_argument("file", type=Path)

    copy = commands.add_parser("copy", help="copy a whole store into an empty one, e.g. a folder to a graph server")
    copy.add_argument("source", help="store folder or graph server URI to read")
    copy.add_argument("target", help="store folder or graph server URI to write; it must be empty")

    graph = commands.add_parser("graph", help="the graph as a file: `hippograph graph export --help`")
    graph_commands = graph.add_subparsers(dest="graph_command", required=True)
    graph_export = with_store(
        graph_commands.add_parser(
            "export", help="write a namespace's graph as GraphML (or GEXF: -o FILE.gexf) for networkx, Gephi, Cytoscape"
        ),
        reads=True,
    )
    graph_export.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="FILE.graphml, or FILE.gexf"
    )

    topics = with_store(
        commands.add_parser("topics", help="the topics of a namespace: communities of its entities"), reads=True
    )
    topics.add_argument("--json", action="store_true", help="print a JSON list of topics")

    serve = with_store(
        commands.add_parser("serve", help="a REST server over the store (FastAPI; OpenAPI docs at /docs)"),
        namespaced=False,
        reads=True,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another address needs an API key)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--api-key",
        default=os.environ.get("HIPPOGRAPH_API_KEY"),
        help="require 'Authorization: Bearer KEY' on every route but /healthz (default: $HIPPOGRAPH_API_KEY)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="let web pages of ORIGIN (e.g. https://app.example.org) call the server from a browser; "
        "repeatable (default: none, so no other origin's page can read a reply)",
    )

    mcp = with_store(
        commands.add_parser(
            "mcp",
            help="an MCP server over the store, for agents (stdio by default; "
            "with --read-only it offers recall, get_note and stats only)",
        ),
        reads=True,
    )
    mcp.add_argument("--http", metavar="HOST:PORT", help="serve streamable HTTP on HOST:PORT instead of stdio")

    benchmark = commands.add_parser(
        "eval", help="benchmarks: `hippograph eval retrieval --help`, `eval qa --help`, `eval locomo --help`"
    )
    benchmark.add_argument("benchmark", choices=BENCHMARKS)
    return parser


def llm_settings(args: argparse.Namespace) -> LLMSettings:
    """LLM settings from the environment, with the command line's --llm-* options on top."""
    return LLMSettings.from_env(
        base_url=args.llm_url, model=args.llm_model, max_concurrency=args.llm_concurrency, timeout=args.llm_timeout
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"] and argv[1:2] and argv[1] in BENCHMARKS:
        from .eval import locomo_retrieval, qa, retrieval

        return {"retrieval": retrieval, "qa": qa, "locomo": locomo_retrieval}[argv[1]].main(argv[2:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        triples = getattr(args, "triples", None)
        extractor = PrecomputedExtractor(triples) if triples else _extractor_kind(args)
        llm = llm_settings(args) if hasattr(args, "llm_url") else None
        if args.command == "copy":
            return _copy(args)
        if args.command in SERVERS:  # a server opens its own memories, one per thread that needs one
            return _server(SERVERS[args.command])(args)
        config = Config(llm_notes=getattr(args, "llm_notes", False))
        with Memory(
            args.store,
            config,
            create=args.command in ("ingest", "add", "import"),
            extractor=extractor,
            llm=llm,
            read_only=getattr(args, "read_only", False),
        ) as memory:
            return COMMANDS[args.command](memory, args)
    except HippographError as err:
        print(f"hippograph: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`hippograph export --store s | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that Python's exit flush is quiet
        return 1
    except KeyboardInterrupt:
        print("hippograph: interrupted; every committed batch is kept", file=sys.stderr)
        return 130


def _extractor_kind(args: argparse.Namespace) -> str | None:
    """--extractor as given; for `ingest --retry-failed` without paths, llm (only the LLM
    extractor records failures); else the default (spacy)."""
    if args.command != "ingest" or args.extractor:
        return getattr(args, "extractor", None)
    return "llm" if args.retry_failed and not args.paths else None


def _ingest(memory: Memory, args: argparse.Namespace) -> int:
    if not args.paths and not args.retry_failed:
        raise SourceError("nothing to ingest: give one or more PATHs, or --retry-failed")
    if args.paths:
        print(memory.ingest(args.paths, namespace=args.namespace, progress=not args.quiet))
    if args.retry_failed:
        print("retried failed extractions:", memory.retry_failed(namespace=args.namespace, progress=not args.quiet))
    else:
        failed = memory.stats(args.namespace).failed_extractions
        if failed:
            print(f"{failed} passage(s) in the store have a failed extraction; run with --retry-failed to try again")
    return 0


def _answer(memory: Memory, args: argparse.Namespace) -> int:
    answer = memory.answer(
        args.text,
        k=args.k,
        method=args.method,
        namespace=args.namespace,
        since=args.since,
        until=args.until,
        as_of=args.as_of,
    )
    print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else answer)
    return 0


def _query(memory: Memory, args: argparse.Namespace) -> int:
    hits = memory.query(
        args.text,
        k=args.k,
        method=args.method,
        namespace=args.namespace,
        since=args.since,
        until=args.until,
        as_of=args.as_of,
    )
    if args.json:
        print(
            json.dumps(
                {"query": args.text, "method": args.method, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False
            )
        )
    else:
        print(hits or "no passages stored yet: ingest some first")
    return 0


def _stats(memory: Memory, args: argparse.Namespace) -> int:
    stats = memory.stats(args.namespace)
    print(json.dumps(dataclasses.asdict(stats)) if args.json else stats)
    return 0


def _delete(memory: Memory, args: argparse.Namespace) -> int:
    if args.all == bool(args.document_id):
        raise SourceError("give a DOCUMENT_ID, or --all to delete the whole namespace (not both)")
    if args.all:
        if args.namespace is None:
            raise SourceError("--all deletes a namespace: name it with --namespace")
        print(f"deleted namespace {args.namespace!r}: {memory.delete_namespace(args.namespace)} document(s)")
    else:
        memory.delete(args.document_id, namespace=args.namespace)
        print(f"deleted {args.document_id}")
    return 0


def _add(memory: Memory, args: argparse.Namespace) -> int:
    note = memory.add(args.text, namespace=args.namespace, timestamp=args.time, id=args.id)
    print(json.dumps(note.to_dict(), ensure_ascii=False) if args.json else note)
    return 0


def _note(memory: Memory, args: argparse.Namespace) -> int:
    note = memory.get(args.note_id, namespace=args.namespace)
    history = memory.history(note.id, namespace=args.namespace)
    if args.json:
        changes = [dataclasses.asdict(change) for change in history]
        print(json.dumps({**note.to_dict(), "history": changes}, ensure_ascii=False))
    else:
        lines = [str(note)]
        lines += [
            f"  change {c.id} at {c.changed_at} by {c.changed_by}: {c.field} {c.old!r} -> {c.new!r}" for c in history
        ]
        print("\n".join(lines))
    return 0


def _graph(memory: Memory, args: argparse.Namespace) -> int:
    graph = memory.to_networkx(args.namespace)
    path = write_graph(graph, args.output)
    print(f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to {path}")
    return 0


def _topics(memory: Memory, args: argparse.Namespace) -> int:
    topics = memory.topics(args.namespace)
    if args.json:
        print(json.dumps([dataclasses.asdict(topic) for topic in topics], ensure_ascii=False))
    else:
        print("\n".join(str(topic) for topic in topics) or "no topics: the namespace has too few connected entities")
    return 0


def _export(memory: Memory, args: argparse.Namespace) -> int:
    counts = memory.export(args.output or sys.stdout)
    print(f"exported {_counts(counts)}" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _import(memory: Memory, args: argparse.Namespace) -> int:
    print(f"imported {_counts(memory.import_export(args.file))} into {args.store}")
    return 0


def _copy(args: argparse.Namespace) -> int:
    with Memory(args.source, create=False) as source, Memory(args.target) as target:
        counts = source.copy_to(target)
    print(f"copied {_counts(counts)} from {args.source} to {args.target}")
    return 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in counts.items() if count) or "nothing"


COMMANDS = {
    "ingest": _ingest,
    "add": _add,
    "note": _note,
    "query": _query,
    "answer": _answer,
    "stats": _stats,
    "delete": _delete,
    "export": _export,
    "import": _import,
    "graph": _graph,
    "topics": _topics,
}
BENCHMARKS = ("retrieval", "qa", "locomo")


def _server(module: str):
    """The `main` of a server module; a missing extra is an error message, not a traceback."""
    try:
        return importlib.import_module(f".server.{module}", __package__).main
    except ImportError as err:
        raise ConfigError(str(err)) from None


SERVERS = {"serve": "rest", "mcp": "mcp"}  # command -> its module in hippograph.server

if __name__ == "__main__":
    sys.exit(main())
