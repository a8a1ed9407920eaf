"""The QA benchmark: index a corpus, answer every question with the LLM from each method's
passages, report exact match and token F1 (SQuAD normalisation, best over answer aliases).

    python pipelines/eval_qa.py --corpus CORPUS.jsonl --questions Q.jsonl \\
        [--triples T.jsonl] [--extractor spacy|precomputed|llm] --methods dense,hippograph \\
        -k 5 --store DIR --json OUT.json [--llm-url URL --llm-model NAME]

The LLM endpoint comes from --llm-url/--llm-model or OPENAI_BASE_URL, OPENAI_API_KEY and
HIPPOGRAPH_LLM_MODEL. Answers are cached with every other model call, so a re-run is free.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from ..errors import HippographError, LLMCallFailed
from ..llm import LLMSettings
from .bench import add_corpus_arguments, benchmark_main, config_from, indexed_memory
from .metrics import exact_match, token_f1
from .questions import load_questions
from .retrieval import parse_methods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval_qa", description="Exact match and F1 of LLM answers on a QA set.")
    add_corpus_arguments(parser)
    parser.add_argument("--methods", default="dense,hippograph", help="retrieval methods, comma-separated")
    parser.add_argument("-k", type=int, default=5, help="passages given to the LLM (default 5)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    return parser


def run(args: argparse.Namespace) -> dict:
    methods = parse_methods(args.methods)
    questions = load_questions(args.questions)[: args.limit]
    config = config_from(args.settings)
    LLMSettings.from_env(base_url=args.llm_url, model=args.llm_model).require()  # before the long ingest
    if not questions:
        raise HippographError(f"{args.questions}: no questions (with --limit {args.limit})")
    memory, report, index_s = indexed_memory(args, config)
    per_question = []
    with memory:
        client = memory.llm
        for question in questions:
            row = {"id": question.id, "question": question.question, "answers": list(question.answers)}
            for method in methods:
                try:
                    answer = memory.answer(question.question, k=args.k, method=method)
                    text, cited = answer.text, [hit.document_id for hit in answer.citations]
                except LLMCallFailed as err:  # counted as wrong, and said
                    text, cited = "", []
                    row[f"{method}_error"] = str(err)
                row[method] = {
                    "answer": text,
                    "cited": cited,
                    "em": exact_match(text, question.answers),
                    "f1": token_f1(text, question.answers),
                }
            per_question.append(row)
        usage = str(client.usage)
        extractor = memory.extractor_name
    scores = {
        m: {
            "em": float(np.mean([q[m]["em"] for q in per_question])),
            "f1": float(np.mean([q[m]["f1"] for q in per_question])),
        }
        for m in methods
    }
    return {
        "methods": scores,
        "per_question": per_question,
        "timing": {"index_s": round(index_s, 2)},
        "llm_usage": usage,
        "config": {
            "corpus": str(args.corpus),
            "questions": str(args.questions),
            "questions_count": len(questions),
            "k": args.k,
            "extractor": extractor,
            "ingest": str(report),
            **dataclasses.asdict(config),
        },
    }


def format_table(results: dict) -> str:
    lines = [f"{'method':<12}{'EM':>8}{'F1':>8}"]
    lines += [f"{m:<12}{s['em']:>8.3f}{s['f1']:>8.3f}" for m, s in results["methods"].items()]
    lines.append(
        f"\n{results['config']['questions_count']} questions; index {results['timing']['index_s']:.1f} s; "
        f"{results['llm_usage']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return benchmark_main(argv, build_parser(), run, format_table)
