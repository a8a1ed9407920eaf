"""The retrieval benchmark: index a corpus, ask every question with each method, report Recall@k.

    python pipelines/eval_retrieval.py --corpus CORPUS.jsonl --questions Q.jsonl \\
        [--triples T.jsonl] [--extractor spacy|precomputed|llm] --methods dense,hippograph \\
        --k 1,2,5,10 --store DIR --json OUT.json

A hit counts for its document id, which is how corpus records and `supporting_ids` name passages.
Timing excludes model loading: the embedding model is loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from ..errors import HippographError
from ..memory import METHODS, Memory
from ..types import DEFAULT_NAMESPACE
from .bench import add_corpus_arguments, benchmark_main, config_from, indexed_memory
from .metrics import recall_at_k
from .questions import Question, load_questions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval_retrieval", description="Recall@k of retrieval methods on a QA set.")
    add_corpus_arguments(parser)
    parser.add_argument(
        "--methods", default="dense,bm25,hybrid,hippograph", help="comma-separated: " + ", ".join(METHODS)
    )
    parser.add_argument("--k", default="1,2,5,10", help="comma-separated cut-offs")
    return parser


def parse_methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise HippographError(f"unknown method(s) {', '.join(unknown)}; use {', '.join(METHODS)}")
    return methods


def run(args: argparse.Namespace) -> dict:
    methods = parse_methods(args.methods)
    ks = sorted({int(k) for k in args.k.split(",")})
    questions = load_questions(args.questions)
    config = config_from(args.settings)
    memory, report, index_s = indexed_memory(args, config)
    with memory:
        memory.query("build the graph view before the clock starts", k=1)
        per_question, latencies = ask(memory, questions, methods, max(ks))
        extractor_name = memory.extractor_name

    scores = {
        method: {
            f"recall@{k}": float(np.mean([recall_at_k(q[method], q["supporting_ids"], k) for q in per_question]))
            for k in ks
        }
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
            "corpus": str(args.corpus),
            "questions": str(args.questions),
            "questions_count": len(questions),
            "extractor": extractor_name,
            "embedding_model": memory.embedding_model_name,
            "ingest": str(report),
            **dataclasses.asdict(config),
        },
    }


def ask(
    memory: Memory, questions: list[Question], methods: list[str], depth: int, namespace: str = DEFAULT_NAMESPACE
) -> tuple[list[dict], dict[str, list[float]]]:
    """Each question's ranked document ids by method (one row a question), and each method's
    query times in milliseconds."""
    per_question: list[dict] = []
    latencies: dict[str, list[float]] = {m: [] for m in methods}
    for question in questions:
        row: dict = {
            "id": question.id,
            "question": question.question,
            "type": question.type,
            "supporting_ids": list(question.supporting_ids),
        }
        for method in methods:
            started = time.perf_counter()
            hits = memory.query(question.question, k=depth, method=method, namespace=namespace)
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
    lines.append(
        f"\nindex {timing['index_s']:.1f} s; "
        + "; ".join(
            f"{m} query p50 {timing[f'query_p50_ms_{m}']:.1f} ms, p95 {timing[f'query_p95_ms_{m}']:.1f} ms"
            for m in methods
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return benchmark_main(argv, build_parser(), run, format_table)
