"""A child process of the reliability tests: it loads the models, prints "ready", then does one
kind of work on a store, so that a test can kill it (SIGKILL) anywhere in the middle, or run
several at once. It prints one JSON line when done.

    python -m tests.reliability.worker ingest STORE --corpus FILE [--part I/N]
    python -m tests.reliability.worker add STORE --corpus FILE       (each record a note, in turn)
    python -m tests.reliability.worker delete STORE --corpus FILE    (each record's document, in turn)
    python -m tests.reliability.worker import STORE --export FILE
    python -m tests.reliability.worker read STORE --until FILE       (queries until FILE exists)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from hippograph import Config, Document, DocumentNotFound, Memory
from hippograph.embed import LocalEmbedder
from hippograph.extract import SpacyExtractor
from hippograph.types import Passage

BATCH = 4  # documents per write transaction: a killed ingest has whole batches to show, or none
# Every kind of record written (fact and entity vectors, synonymy edges), as conftest.EVERY_RECORD.
CONFIG = Config(ingest_batch_size=BATCH, synonym_threshold=0.8, fact_weight=0.1)
NOTE_TIME = "2024-05-01T12:00:00+00:00"  # fixed, so that a note added again is the same note
QUESTIONS = ["Where was the founder of Brightwater Labs born?", "Who is Ida Marsh married to?"]


def corpus(path: Path, part: str | None = None) -> list[dict]:
    """The records of a JSONL corpus; with part "I/N", every N-th from the I-th (0-based)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if part is None:
        return records
    index, count = map(int, part.split("/"))
    return records[index::count]


def documents(records: list[dict]) -> list[Document]:
    return [Document(r["text"], id=r["id"], title=r.get("title", "")) for r in records]


def add_notes(memory: Memory, records: list[dict]) -> int:
    for record in records:
        memory.add(record["text"], id=record["id"], timestamp=NOTE_TIME)
    return len(records)


def delete_documents(memory: Memory, records: list[dict]) -> int:
    deleted = 0
    for record in records:
        try:
            memory.delete(record["id"])
            deleted += 1
        except DocumentNotFound:  # deleted before the crash
            pass
    return deleted


def read_until(memory: Memory, stop: Path) -> int:
    queries = 0
    while not stop.exists():
        memory.query(QUESTIONS[queries % len(QUESTIONS)], k=5)
        queries += 1
    return queries


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", choices=["ingest", "add", "delete", "import", "read"])
    parser.add_argument("store", type=Path)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--part")
    parser.add_argument("--export", type=Path)
    parser.add_argument("--until", type=Path)
    args = parser.parse_args(argv)
    embedder, extractor = LocalEmbedder(), SpacyExtractor()
    if args.work in ("ingest", "add", "read"):  # loaded before "ready": a kill falls in the work, not the loading
        embedder.embed(["warm up"])
        extractor.extract([Passage("warm-up", "warm-up", 0, "", "Mira Holt was born in Veloria.")])
    with Memory(args.store, CONFIG, embedder=embedder, extractor=extractor) as memory:
        print("ready", flush=True)
        started = time.perf_counter()
        if args.work == "ingest":
            done = dataclasses.asdict(memory.ingest(documents(corpus(args.corpus, args.part)), progress=False))
        elif args.work == "add":
            done = add_notes(memory, corpus(args.corpus))
        elif args.work == "delete":
            done = delete_documents(memory, corpus(args.corpus))
        elif args.work == "import":
            done = memory.import_export(args.export)
        else:
            done = read_until(memory, args.until)
        print(json.dumps({"done": done, "seconds": time.perf_counter() - started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
