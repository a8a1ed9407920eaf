"""The retrieval benchmark: index a corpus, ask every question with each method, report Recall@k.

    python pipelines/eval_retrieval.py --corpus CORPUS.jsonl --questions Q.jsonl \\
        [--triples T.jsonl] [--extractor spacy|precomputed] --methods dense,hippograph \\
        --k 1,2,5,10 --store DIR --json OUT.json

A hit counts for its document id, which is how corpus records and `supporting_ids` name passages.
Timing excludes model loading: the embedding model is loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..config import Config
from ..embed.local import LocalEmbedder
from ..errors import HippographError
from ..extract import PrecomputedExtractor, SpacyExtractor
from ..memory import METHODS, Memory
from .metrics import recall_at_k
from .questions import Question, load_questions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval_retrieval", description="Recall@k of retrieval methods on a QA set.")
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL records {id, title, text}")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL {id, question, answers, supporting_ids}")
    parser.add_argument("--triples", type=Path, help="precomputed triples (implies --extractor precomputed)")
    parser.add_argument("--extractor", choices=("spacy", "precomputed"), help="default: precomputed with --triples, else spacy")
    parser.add_argument("--methods", default="dense,hippograph", help="comma-separated: " + ", ".join(METHODS))
    parser.add_argument("--k", default="1,2,5,10", help="comma-separated cut-offs")
    parser.add_argument("--store", type=Path, required=True, help="store folder (emptied first unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="keep what the store holds (re-ingest is a no-op)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="override a Config field, e.g. --set damping=0.5 (repeatable)")
    return parser


def config_from(settings: list[str]) -> Config:
    """A Config with NAME=VALUE overrides, each value read as JSON (numbers, null) or else as text."""
    fields = {f.name for f in dataclasses.fields(Config)}
    overrides = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or name not in fields:
            raise HippographError(f"--set {setting!r}: use NAME=VALUE with a Config field ({', '.join(sorted(fields))})")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    return Config(**overrides)


def run(args: argparse.Namespace) -> dict:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise HippographError(f"unknown method(s) {', '.join(unknown)}; use {', '.join(METHODS)}")
    ks = sorted({int(k) for k in args.k.split(",")})
    extractor_kind = args.extractor or ("precomputed" if args.triples else "spacy")
    if extractor_kind == "precomputed" and not args.triples:
        raise HippographError("--extractor precomputed needs --triples FILE")
    questions = load_questions(args.questions)
    config = config_from(args.settings)
    embedder = LocalEmbedder(config.embedding_model, config.embedding_batch_size)
    embedder.embed(["load the model before the clock starts"])
    extractor = PrecomputedExtractor(args.triples) if extractor_kind == "precomputed" else SpacyExtractor(config.spacy_model)
    if args.store.exists() and not args.reuse:
        shutil.rmtree(args.store)

    with Memory(args.store, config, embedder=embedder, extractor=extractor) as memory:
        started = time.perf_counter()
        report = memory.ingest(args.corpus)
        index_s = time.perf_counter() - started
        memory.query("build the graph view before the clock starts", k=1)
        per_question, latencies = _ask(memory, questions, methods, max(ks))

    scores = {
        method: {f"recall@{k}": float(np.mean([recall_at_k(q[method], q["supporting_ids"], k) for q in per_question]))
                 for k in ks}
        for method in methods
    }
    return {
        "methods": scores,
        "per_question": per_question,
        "timing": {
            "index_s": round(index_s, 2),
            **{f"query_p50_ms_{m}": round(float(np.percentile(latencies[m], 50)), 2) for m in methods},
            **{f"query_p95_ms_{m}": round(float(np.percentile(latencies[m], 95)), 2) for m in methods},
            "query_p50_ms": round(float(np.percentile(latencies[methods[-1]], 50)), 2),
            "query_p95_ms": round(float(np.percentile(latencies[methods[-1]], 95)), 2),
        },
        "config": {
            "corpus": str(args.corpus), "questions": str(args.questions), "questions_count": len(questions),
            "extractor": extractor.name, "embedding_model": embedder.name, "ingest": str(report),
            **dataclasses.asdict(config),
        },
    }


def _ask(memory: Memory, questions: list[Question], methods: list[str], depth: int) -> tuple[list[dict], dict]:
    per_question: list[dict] = []
    latencies: dict[str, list[float]] = {m: [] for m in methods}
    for question in questions:
        row: dict = {"id": question.id, "question": question.question, "supporting_ids": list(question.supporting_ids)}
        for method in methods:
            started = time.perf_counter()
            hits = memory.query(question.question, k=depth, method=method)
            latencies[method].append((time.perf_counter() - started) * 1000)
            row[method] = list(dict.fromkeys(h.document_id for h in hits))
        per_question.append(row)
    return per_question, latencies


def format_table(results: dict) -> str:
    methods = results["methods"]
    columns = list(next(iter(methods.values())))
    lines = [f"{'method':<12}" + "".join(f"{c:>11}" for c in columns)]
    lines += [f"{m:<12}" + "".join(f"{scores[c]:>11.3f}" for c in columns) for m, scores in methods.items()]
    timing = results["timing"]
    lines.append(f"\nindex {timing['index_s']:.1f} s; " + "; ".join(
        f"{m} query p50 {timing[f'query_p50_ms_{m}']:.1f} ms, p95 {timing[f'query_p95_ms_{m}']:.1f} ms" for m in methods))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results = run(args)
    except HippographError as err:
        print(f"eval_retrieval: error: {err}", file=sys.stderr)
        return 1
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0
