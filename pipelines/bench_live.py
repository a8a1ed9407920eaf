"""Benchmark: live memory, a query right after a write (issue 21).

    python pipelines/bench_live.py --corpus ../shared/datasets/musique/corpus.jsonl \\
        --triples ../shared/datasets/musique/openie-gpt-3.5-turbo-1106.jsonl \\
        --store /tmp/live-store --json /tmp/live.json

Ingests the corpus into --store (emptied first; with --reuse the store is taken as it is), then
opens it with the spaCy extractor, as an application adding notes would, and times, over
--repeat rounds each (medians, and p90):
- `warm_query_p50_ms`: a query of the default namespace, nothing written since the last one;
- `add_ms_p50`: `Memory.add` of a new note to the default namespace;
- `add_then_query_p50_ms`: the query right after that add (the add itself not counted);
- `other_namespace_add_then_query_p50_ms`: a query of the default namespace right after an add
  to another namespace;
- `other_process_add_then_query_p50_ms`: the query right after another process (a child with a
  memory of its own on the same store) added a note to the default namespace.
The notes added are corpus passages (their first 300 characters, each with a unique id) so they
bring entities, facts and links as a real note does. Queries are the --questions, in turn. BLAS and
torch run on one thread (printed). The store grows by 3 x --repeat notes. For a synthetic store of
bench_scale.py (`--store ROOT/n100000/store --reuse --corpus ROOT/n100000/corpus.jsonl
--questions ROOT/n100000/questions.jsonl --embedder hash`), vectors come from its deterministic
embedder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = 1
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = str(THREADS)

from hippograph.config import Config  # noqa: E402
from hippograph.eval.bench import benchmark_main, indexed_memory, store_location  # noqa: E402
from hippograph.memory import Memory  # noqa: E402
from hippograph.sources import read_jsonl  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO.parent / "shared" / "datasets" / "musique" / "questions-dev.jsonl"
OTHER_NAMESPACE = "bench-live-other"
NOTE_CHARACTERS = 300
# The child process that writes beside the benchmark's memory: one JSON {"text", "id"} a line in,
# "ok" a line out once the note is stored.
WRITER = """
import json, sys
from hippograph import Memory
sys.path.insert(0, sys.argv[2])
from bench_live import embedder_of
memory = Memory(sys.argv[1], extractor="spacy", **embedder_of(sys.argv[3]))
print("ready", flush=True)
for line in sys.stdin:
    note = json.loads(line)
    memory.add(note["text"], id=note["id"])
    print("ok", flush=True)
"""


def parse_args() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench_live.py", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL records {id, title, text}")
    parser.add_argument("--triples", type=Path, help="precomputed triples to ingest the corpus with (else spaCy)")
    parser.add_argument("--store", type=store_location, required=True, help="store folder (emptied unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="take the store as it is (the corpus is not ingested)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help=f"JSONL {{question}} (default {QUESTIONS})")
    parser.add_argument(
        "--embedder",
        choices=("model", "hash"),
        default="model",
        help="the embedding model (default), or bench_scale.py's deterministic vectors for its synthetic stores",
    )
    parser.add_argument("--repeat", type=int, default=20, help="rounds of each measurement (default 20, at least 20)")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser


def run(args: argparse.Namespace) -> dict:
    if args.repeat < 20:
        raise SystemExit("bench_live.py: --repeat must be at least 20")
    import torch

    torch.set_num_threads(THREADS)
    questions = [row["question"] for _, row in read_jsonl(args.questions)]
    passages = [row for _, row in read_jsonl(args.corpus)]
    ingest_s = None
    if not args.reuse:
        args.extractor, args.llm_url, args.llm_model = None, None, None
        built, _, ingest_s = indexed_memory(args, Config())
        built.close()
    memory = Memory(args.store, extractor="spacy", **embedder_of(args.embedder))
    notes = iter(_notes(passages, time.time_ns()))
    try:
        warm = [_timed(memory.query, questions[i % len(questions)]) for i in range(args.repeat + 5)][5:]
        adds, after_add = [], []
        for i in range(args.repeat):
            adds.append(_timed(memory.add, **next(notes)))
            after_add.append(_timed(memory.query, questions[i % len(questions)]))
        other_namespace = []
        for i in range(args.repeat):
            memory.add(**next(notes), namespace=OTHER_NAMESPACE)
            other_namespace.append(_timed(memory.query, questions[i % len(questions)]))
        other_process = _other_process(args.store, args.embedder, memory, questions, notes, args.repeat)
        stats = memory.stats(namespace="default")
    finally:
        memory.close()
    results = {
        "store": str(args.store),
        "passages": stats.passages,
        "entities": stats.entities,
        "repetitions": args.repeat,
        "threads": THREADS,
        "ingest_s": ingest_s,
        **_summary("warm_query", warm, "_p50_ms"),
        **_summary("add_ms", adds, "_p50"),
        **_summary("add_then_query", after_add, "_p50_ms"),
        **_summary("other_namespace_add_then_query", other_namespace, "_p50_ms"),
        **_summary("other_process_add_then_query", other_process, "_p50_ms"),
    }
    for name in ("add_then_query", "other_namespace_add_then_query", "other_process_add_then_query"):
        results[f"{name}_x_warm"] = round(results[f"{name}_p50_ms"] / results["warm_query_p50_ms"], 2)
    return results


def embedder_of(name: str) -> dict:
    """Memory's embedder argument for --embedder: none (the configured model), or the synthetic
    stores' deterministic vectors."""
    if name == "model":
        return {}
    from bench_scale import HashEmbedder

    return {"embedder": HashEmbedder()}


def _notes(passages: list[dict], run_id: int):
    """Notes to add: corpus passages cut short, each with an id of its own."""
    for number in range(10**9):
        passage = passages[(number * 7919) % len(passages)]
        yield {"text": passage["text"][:NOTE_CHARACTERS], "id": f"live-{run_id}-{number}"}


def _timed(call, *args, **kwargs) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def _other_process(store, embedder: str, memory: Memory, questions: list[str], notes, repeat: int) -> list[float]:
    """The query right after a note another process added (its add waited for)."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store), str(Path(__file__).parent), embedder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        if writer.stdout.readline().strip() != "ready":
            raise RuntimeError("the writer process did not start")
        times = []
        for i in range(repeat):
            memory.query(questions[i % len(questions)])  # the view is up to date before the write
            writer.stdin.write(json.dumps(next(notes)) + "\n")
            writer.stdin.flush()
            if writer.stdout.readline().strip() != "ok":
                raise RuntimeError("the writer process failed to add a note")
            times.append(_timed(memory.query, questions[i % len(questions)]))
        return times
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)


def _summary(name: str, times: list[float], suffix: str) -> dict:
    p90 = statistics.quantiles(times, n=10)[-1]
    return {f"{name}{suffix}": round(statistics.median(times), 2), f"{name}_p90_ms": round(p90, 2)}


def format_table(results: dict) -> str:
    rows = [
        ("warm query", "warm_query_p50_ms", "warm_query_p90_ms", None),
        ("add (the add itself)", "add_ms_p50", "add_ms_p90_ms", None),
        ("add, then query", "add_then_query_p50_ms", "add_then_query_p90_ms", "add_then_query_x_warm"),
        (
            "add to another namespace, then query",
            "other_namespace_add_then_query_p50_ms",
            "other_namespace_add_then_query_p90_ms",
            "other_namespace_add_then_query_x_warm",
        ),
        (
            "another process adds, then query",
            "other_process_add_then_query_p50_ms",
            "other_process_add_then_query_p90_ms",
            "other_process_add_then_query_x_warm",
        ),
    ]
    lines = [
        f"store {results['store']}: {results['passages']:,} passages, {results['entities']:,} entities; "
        f"{results['repetitions']} rounds each, {results['threads']} BLAS/torch thread",
        f"{'':<40}{'p50 ms':>10}{'p90 ms':>10}{'x warm':>10}",
    ]
    for label, p50, p90, ratio in rows:
        lines.append(f"{label:<40}{results[p50]:>10.2f}{results[p90]:>10.2f}{results[ratio] if ratio else '':>10}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(benchmark_main(None, parse_args(), run, format_table))
