"""The LoCoMo retrieval benchmark: store each conversation's turns in a namespace of its own, ask
its questions with each method, report evidence recall@k per question category.

    python pipelines/eval_locomo.py --data locomo-dev.json [--store DIR] [--reuse] [--limit N] \\
        [--k 5 10] [--lowercase] [--json OUT.json]

Recall@k of a question = |top-k dia_ids ∩ evidence| / |evidence|. "overall 1-4" averages over the
questions of categories 1-4; category 5 (adversarial: the conversation does not answer it) is
reported apart. Timing excludes loading the embedding model.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import DocumentNotFound, HippographError
from ..memory import Memory
from .bench import benchmark_main, config_from, open_memory
from .locomo import CATEGORIES, Conversation, load_locomo, store_conversation
from .metrics import recall_at_k
from .questions import Question
from .retrieval import ask

METHODS = ("dense", "bm25", "hybrid", "hippograph")
LABELS = {number: f"{number} {name}" for number, name in CATEGORIES.items()}
OVERALL = "overall 1-4"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval_locomo", description="Evidence recall@k on LoCoMo conversations.")
    parser.add_argument("--data", type=Path, required=True, help="LoCoMo JSON file (a list of conversations)")
    parser.add_argument(
        "--store", type=Path, help="store folder, emptied first unless --reuse (default: a temporary folder)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the store; conversations it holds are not ingested again"
    )
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10], help="cut-offs (default: 5 10)")
    parser.add_argument(
        "--lowercase", action="store_true", help="ask the questions in lower case, as typed in a chat box"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Config field, e.g. --set damping=0.5 (repeatable)",
    )
    return parser


def run(args: argparse.Namespace) -> dict:
    if args.reuse and args.store is None:
        raise HippographError("--reuse needs --store DIR")
    if min(args.k) < 1 or (args.limit is not None and args.limit < 1):
        raise HippographError("--k and --limit take whole numbers of at least 1")
    ks = sorted(set(args.k))
    conversations = load_locomo(args.data)[: args.limit]
    if not any(c.questions for c in conversations):
        raise HippographError(f"{args.data}: no question with valid evidence")
    config = config_from(args.settings)
    with (
        tempfile.TemporaryDirectory(prefix="locomo-") as scratch,
        open_memory(args.store or Path(scratch) / "store", config, reuse=args.reuse) as memory,
    ):
        started, ingested = time.perf_counter(), []
        for conversation in conversations:
            if not (args.reuse and _holds(memory, conversation)):
                store_conversation(memory, conversation, conversation.sample_id)
                ingested.append(conversation.sample_id)
        ingest_s = time.perf_counter() - started
        per_question, latencies = [], {m: [] for m in METHODS}
        for conversation in conversations:
            memory.query("build the graph view before the clock starts", k=1, namespace=conversation.sample_id)
            questions = _questions(conversation, args.lowercase)
            rows, times = ask(memory, questions, list(METHODS), max(ks), conversation.sample_id)
            per_question += [{"conversation": conversation.sample_id, **row} for row in rows]
            for method in METHODS:
                latencies[method] += times[method]
        extractor, embedding_model = memory.extractor_name, memory.embedding_model_name
    return {
        "recall": recall_by_category(per_question, METHODS, ks),
        "per_question": per_question,
        "timing": {
            "ingest_s": round(ingest_s, 2),
            "ingested": ingested,
            **{f"query_p50_ms_{m}": round(float(np.percentile(latencies[m], 50)), 2) for m in METHODS},
        },
        "evidence": {
            "dropped_ids": sum(c.dropped_evidence for c in conversations),
            "skipped_questions": sum(c.skipped_questions for c in conversations),
        },
        "config": {
            "data": str(args.data),
            "conversations": [c.sample_id for c in conversations],
            "lowercase": args.lowercase,
            "turns": sum(len(c.turns) for c in conversations),
            "extractor": extractor,
            "embedding_model": embedding_model,
            **dataclasses.asdict(config),
        },
    }


def recall_by_category(rows: list[dict], methods: tuple[str, ...], ks: list[int]) -> dict[str, dict]:
    """For categories 1-4, OVERALL (their questions together) and 5: the question count and each
    method's mean recall@k (None for a category without questions). Rows are `ask`'s, their
    type a category label."""
    groups = {LABELS[n]: [r for r in rows if r["type"] == LABELS[n]] for n in (1, 2, 3, 4)}
    groups[OVERALL] = [r for group in groups.values() for r in group]
    groups[LABELS[5]] = [r for r in rows if r["type"] == LABELS[5]]
    return {
        label: {
            "questions": len(group),
            **{
                f"{m} R@{k}": float(np.mean([recall_at_k(r[m], r["supporting_ids"], k) for r in group]))
                if group
                else None
                for k in ks
                for m in methods
            },
        }
        for label, group in groups.items()
    }


def format_table(results: dict) -> str:
    recall = results["recall"]
    columns = [c for c in next(iter(recall.values())) if c != "questions"]
    lines = [f"{'category':<16}{'questions':>10}" + "".join(f"{c:>{len(c) + 3}}" for c in columns)]
    for label, row in recall.items():
        cells = "".join(f"{'–' if row[c] is None else f'{row[c]:.3f}':>{len(c) + 3}}" for c in columns)
        lines.append(f"{label:<16}{row['questions']:>10}{cells}")
    timing, evidence, config = results["timing"], results["evidence"], results["config"]
    lines.append(
        f"\n{len(config['conversations'])} conversation(s), {config['turns']} turns; ingest {timing['ingest_s']:.1f} s "
        f"({len(timing['ingested'])} ingested); "
        + "; ".join(f"{m} query p50 {timing[f'query_p50_ms_{m}']:.1f} ms" for m in METHODS)
        + f"\nevidence: {evidence['dropped_ids']} id(s) dropped (malformed or naming no turn), "
        f"{evidence['skipped_questions']} question(s) skipped for want of valid evidence"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return benchmark_main(argv, build_parser(), run, format_table)


def _questions(conversation: Conversation, lowercase: bool = False) -> list[Question]:
    return [
        Question(
            f"{conversation.sample_id}/q{n}",
            q.question.lower() if lowercase else q.question,
            (q.answer,),
            q.evidence,
            LABELS[q.category],
        )
        for n, q in enumerate(conversation.questions)
    ]


def _holds(memory: Memory, conversation: Conversation) -> bool:
    """Whether the store holds every turn of the conversation (in its namespace)."""
    try:
        for turn in conversation.turns:
            memory.document(turn.dia_id, namespace=conversation.sample_id)
    except DocumentNotFound:
        return False
    return True
