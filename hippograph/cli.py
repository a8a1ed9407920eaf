"""The `hippograph` command: ingest, query, stats and delete on a store folder."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

from .errors import HippographError
from .extract import PrecomputedExtractor
from .memory import METHODS, Memory
from .types import Hits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hippograph", description="A graph-based knowledge memory.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_store(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        default = os.environ.get("HIPPOGRAPH_STORE")
        command.add_argument("--store", default=default, required=default is None,
                             help="store folder (default: $HIPPOGRAPH_STORE)")
        return command

    ingest = with_store(commands.add_parser("ingest", help="add .jsonl/.json/.txt/.md files or folders"))
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument("--triples", type=Path, metavar="FILE",
                        help="import extracted triples (JSONL by id, or HippoRAG OpenIE JSON) instead of running spaCy")

    query = with_store(commands.add_parser("query", help="retrieve the passages that answer a question"))
    query.add_argument("text")
    query.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    query.add_argument("--method", choices=METHODS, default="hippograph")
    query.add_argument("--json", action="store_true", help="print one JSON object with a 'hits' list")

    stats = with_store(commands.add_parser("stats", help="count what the store holds"))
    stats.add_argument("--json", action="store_true")

    delete = with_store(commands.add_parser("delete", help="delete a document and all only it supported"))
    delete.add_argument("document_id")

    benchmark = commands.add_parser("eval", help="benchmarks: `hippograph eval retrieval --help`")
    benchmark.add_argument("benchmark", choices=("retrieval",))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["eval", "retrieval"]:
        from .eval.retrieval import main as eval_retrieval

        return eval_retrieval(argv[2:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        triples = getattr(args, "triples", None)
        extractor = PrecomputedExtractor(triples) if triples else None
        with Memory(args.store, create=args.command == "ingest", extractor=extractor) as memory:
            return COMMANDS[args.command](memory, args)
    except HippographError as err:
        print(f"hippograph: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hippograph: interrupted; every committed batch is kept", file=sys.stderr)
        return 130


def _ingest(memory: Memory, args: argparse.Namespace) -> int:
    report = memory.ingest(args.paths, progress=not args.quiet)
    print(report)
    return 0


def _query(memory: Memory, args: argparse.Namespace) -> int:
    hits = memory.query(args.text, k=args.k, method=args.method)
    if args.json:
        print(json.dumps({"query": args.text, "method": args.method, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
    else:
        print(format_hits(hits))
    return 0


def format_hits(hits: Hits) -> str:
    """Ranked hits as readable text: the question's entities and linked facts once, then each
    passage and why it came."""
    if not hits:
        return "no passages stored yet: ingest some first"
    lines = []
    explanation = hits[0].explanation
    if explanation.question_entities:
        lines.append("question names: " + ", ".join(explanation.question_entities))
    if explanation.seed_facts:
        lines.append("linked facts: " + "; ".join(str(f) for f in explanation.seed_facts))
    for rank, hit in enumerate(hits, 1):
        lines.append(f"\n{rank}. {hit.title or hit.document_id}  [{hit.document_id}]  score {hit.score:.4f}")
        lines.append(textwrap.indent(textwrap.fill(hit.text, 96), "   "))
        lines.append(f"   why: {hit.explanation}")
    return "\n".join(lines)


def _stats(memory: Memory, args: argparse.Namespace) -> int:
    stats = memory.stats()
    print(json.dumps(dataclasses.asdict(stats)) if args.json else stats)
    return 0


def _delete(memory: Memory, args: argparse.Namespace) -> int:
    memory.delete(args.document_id)
    print(f"deleted {args.document_id}")
    return 0


COMMANDS = {"ingest": _ingest, "query": _query, "stats": _stats, "delete": _delete}

if __name__ == "__main__":
    sys.exit(main())
