"""What the benchmark pipelines share: corpus and store arguments, Config overrides, a memory
with the corpus ingested (timed, models loaded before the clock starts), and the main loop."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..embed.local import LocalEmbedder
from ..errors import HippographError
from ..extract import Extractor, PrecomputedExtractor
from ..llm import LLMSettings
from ..memory import Memory
from ..store.bolt import is_server_uri
from ..types import IngestReport


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL records {id, title, text}")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL {id, question, answers, supporting_ids}")
    parser.add_argument("--triples", type=Path, help="precomputed triples (implies --extractor precomputed)")
    parser.add_argument(
        "--extractor", choices=("spacy", "precomputed", "llm"), help="default: precomputed with --triples, else spacy"
    )
    parser.add_argument(
        "--store",
        type=store_location,
        required=True,
        help="store folder (emptied first unless --reuse), or a graph server URI bolt://HOST:PORT "
        "(user, password and database from NEO4J_*; it must be empty unless --reuse)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep what the store holds (re-ingest is a no-op)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Config field, e.g. --set damping=0.5 (repeatable)",
    )
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL (default: $OPENAI_BASE_URL)")
    parser.add_argument("--llm-model", help="model name (default: $HIPPOGRAPH_LLM_MODEL)")


def config_from(settings: list[str]) -> Config:
    """A Config with NAME=VALUE overrides, each value read as JSON (numbers, null) or else as text."""
    fields = {f.name for f in dataclasses.fields(Config)}
    overrides = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or name not in fields:
            raise HippographError(
                f"--set {setting!r}: use NAME=VALUE with a Config field ({', '.join(sorted(fields))})"
            )
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    return Config(**overrides)


def store_location(text: str) -> Path | str:
    """A folder, or a graph server URI kept as written (a Path would fold its "//")."""
    return text if is_server_uri(text) else Path(text)


def open_memory(
    store: Path | str,
    config: Config,
    *,
    reuse: bool,
    extractor: Extractor | str = "spacy",
    llm: LLMSettings | None = None,
) -> Memory:
    """A Memory on `store` (emptied first unless `reuse`) whose embedding model is already loaded,
    so that timings leave loading it out. The caller closes the memory."""
    embedder = LocalEmbedder(config.embedding_model, config.embedding_batch_size)
    embedder.embed(["load the model before the clock starts"])
    if isinstance(store, Path) and store.exists() and not reuse:
        shutil.rmtree(store)
    memory = Memory(store, config, embedder=embedder, extractor=extractor, llm=llm)
    if not isinstance(store, Path) and not reuse and memory.stats().documents:
        memory.close()
        raise HippographError(f"{store} holds a memory already: empty its database or pass --reuse")
    return memory


def indexed_memory(args: argparse.Namespace, config: Config) -> tuple[Memory, IngestReport, float]:
    """A Memory on `args.store` (emptied first unless --reuse) with `args.corpus` ingested, the
    ingest time in seconds, and its report. The caller closes the memory."""
    kind = args.extractor or ("precomputed" if args.triples else "spacy")
    if kind == "precomputed" and not args.triples:
        raise HippographError("--extractor precomputed needs --triples FILE")
    extractor = PrecomputedExtractor(args.triples) if kind == "precomputed" else kind
    llm = LLMSettings.from_env(base_url=args.llm_url, model=args.llm_model)
    memory = open_memory(args.store, config, reuse=args.reuse, extractor=extractor, llm=llm)
    try:
        started = time.perf_counter()
        report = memory.ingest(args.corpus)
        return memory, report, time.perf_counter() - started
    except BaseException:
        memory.close()
        raise


def benchmark_main(
    argv: list[str] | None,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], dict],
    format_table: Callable[[dict], str],
) -> int:
    """Parse, run, print the table, write --json; a HippographError is one line on stderr, exit 1."""
    args = parser.parse_args(argv)
    try:
        results = run(args)
    except HippographError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0
