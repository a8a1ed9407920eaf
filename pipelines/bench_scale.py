"""Benchmark: hippograph on synthetic corpora of growing size (issue 22).

    python pipelines/bench_scale.py --sizes 10000,100000 --json /tmp/scale.json [--root DIR]

For each size, a child process generates the corpus, ingests it into a fresh SQLite store under
--root and measures it; then another child opens the store cold and asks the questions, and a
third opens it again. One row per size: `n_passages, ingest_s, disk_mb, cold_open_ms,
query_p50_ms, query_p95_ms, peak_rss_mb` (the largest of the children's peak resident sets), plus
`reopen_ms`, `reopen_query_p50_ms`, `ingest_peak_rss_mb`, `query_peak_rss_mb` and the counts.
The ingest builds the graph view and saves it when its memory closes (graph/view_cache.py; that
time is in `ingest_s`, and alone in `ingest_close_s`), so the first open loads it, as `reopen_ms`,
the next process's open and first question, does; with --cold-build the first open builds the view
itself. The children's user cache (where views are saved) is <root>/n<size>/user-cache, emptied
before an ingest (and, with --cold-build, before the first open).

The generator (seeded, the same corpus every run): `entities = passages / 2` made-up names
(syllables) whose popularity follows Zipf's law (rank^-1.1); each passage states 3-8 facts
"<subject> <relation> <object>." whose entities are drawn by popularity, and its first subject is
an entity of the passage before it in its chain of 5, so multi-hop chains exist. Triples are handed
to the PrecomputedExtractor (a JSONL file beside the store), and vectors come from a deterministic
embedder (a seeded random unit vector per text, 384 numbers), so neither spaCy nor the embedding
model is what is measured. Questions name two entities of one passage ("How is A related to B?").
With `--embedder model` the embedding model embeds passages and questions instead (its stores go
to n<size>-model).
BLAS and torch run on one thread. A store of a size that is there already (its `corpus.jsonl`
and store) is ingested again only with --fresh.

`--store bolt://HOST:PORT` (user, password and database from NEO4J_*; one size; an empty
database, or one that holds this size's corpus already) ingests into a graph server instead and
queries it as a user of the defaults would: reading neighbourhoods (Config.graph_reads). Its
`disk_mb` is left out (the server's files are not the client's), and `peak_rss_mb` is the
client's alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = 1
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = str(THREADS)

import numpy as np  # noqa: E402

DIMENSION = 384
SYLLABLES = "ka lo mi ren tas vo ul dri sen po ar gu the nim ol bra zu eph ci dor".split()
RELATIONS = ["founded", "lives in", "works for", "was born in", "wrote about", "married", "owns", "visited"]
QUESTIONS = 50
WARM = 5


class HashEmbedder:
    """Deterministic unit vectors: a random vector seeded by the text's hash (no model)."""

    name = "hash-384"

    def embed(self, texts) -> np.ndarray:
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vectors[row] = np.random.default_rng(seed).standard_normal(DIMENSION)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def generate(passages: int, folder: Path, seed: int = 22) -> None:
    """Write corpus.jsonl, triples.jsonl and questions.jsonl for `passages` passages."""
    rng = np.random.default_rng(seed)
    count = max(passages // 2, 10)
    names = _names(count, rng)
    popularity = 1.0 / np.arange(1, count + 1) ** 1.1
    popularity /= popularity.sum()
    with (
        (folder / "corpus.jsonl").open("w") as corpus,
        (folder / "triples.jsonl").open("w") as triples,
        (folder / "questions.jsonl").open("w") as questions,
    ):
        previous: list[str] = []
        draws = rng.choice(count, size=(passages, 8, 2), p=popularity)  # all at once: one call per draw is slow
        for number in range(passages):
            facts = []
            for fact in range(int(rng.integers(3, 9))):
                first, second = draws[number, fact].tolist()
                subject, obj = names[first], names[(second + 1) % count if second == first else second]
                if fact == 0 and previous and number % 5:  # a chain: start from an entity of the passage before
                    subject = previous[int(rng.integers(len(previous)))]
                facts.append([subject, RELATIONS[int(rng.integers(len(RELATIONS)))], obj])
            previous = sorted({part for s, _, o in facts for part in (s, o)})
            identifier = f"p{number}"
            corpus.write(
                json.dumps({"id": identifier, "title": "", "text": " ".join(f"{s} {r} {o}." for s, r, o in facts)})
                + "\n"
            )
            triples.write(
                json.dumps({"id": identifier, "extracted_entities": previous, "extracted_triples": facts}) + "\n"
            )
            if number % max(passages // QUESTIONS, 1) == 0:
                questions.write(json.dumps({"question": f"How is {facts[0][0]} related to {facts[0][2]}?"}) + "\n")


def _names(count: int, rng: np.random.Generator) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        words = [
            "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))).capitalize()
            for _ in range(int(rng.integers(1, 3)))
        ]
        names.add(" ".join(words))
    return sorted(names)


def _embedder(name: str) -> dict:
    """Memory's embedder argument: the deterministic vectors, or none (the embedding model)."""
    return {"embedder": HashEmbedder()} if name == "hash" else {}


def ingest(folder: Path, embedder: str, settings: list[str], server: str | None) -> dict:
    """Child: ingest the corpus of `folder` into `folder/store` (or the empty database of the
    graph server `server`); its time, size (of a folder) and peak memory."""
    from hippograph import Memory
    from hippograph.eval.bench import config_from
    from hippograph.extract import PrecomputedExtractor

    store = server or folder / "store"
    if server is None:
        shutil.rmtree(store, ignore_errors=True)
    started = time.perf_counter()
    extractor = PrecomputedExtractor(folder / "triples.jsonl")
    memory = Memory(store, config_from(settings), extractor=extractor, **_embedder(embedder))
    if memory.stats().documents:
        raise SystemExit(f"{server} holds a memory already: empty its database first")
    report = memory.ingest(folder / "corpus.jsonl", progress=False)
    stats = memory.stats()
    closing = time.perf_counter()
    memory.close()  # builds and saves the graph view for the next process
    return {
        "ingest_s": round(time.perf_counter() - started, 1),
        "ingest_close_s": round(time.perf_counter() - closing, 1),
        "disk_mb": None if server else round(sum(p.stat().st_size for p in store.glob("*")) / 2**20, 1),
        "n_passages": stats.passages,
        "entities": stats.entities,
        "facts": stats.facts,
        "documents": report.added,
        "ingest_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def query(folder: Path, embedder: str, settings: list[str], server: str | None) -> dict:
    """Child: open the store (`folder/store`, or the graph server's) cold, time the first
    question and then the others."""
    import torch

    from hippograph import Memory
    from hippograph.eval.bench import config_from

    torch.set_num_threads(THREADS)
    questions = [json.loads(line)["question"] for line in (folder / "questions.jsonl").open()]
    started = time.perf_counter()
    memory = Memory(server or folder / "store", config_from(settings), create=False, **_embedder(embedder))
    memory.query(questions[0])
    cold_ms = (time.perf_counter() - started) * 1000
    times = []
    for number, question in enumerate(questions * 2):
        began = time.perf_counter()
        memory.query(question)
        if number >= WARM:
            times.append((time.perf_counter() - began) * 1000)
    memory.close()
    return {
        "cold_open_ms": round(cold_ms),
        "query_p50_ms": round(statistics.median(times), 1),
        "query_p95_ms": round(statistics.quantiles(times, n=20)[-1], 1),
        "queries": len(times),
        "query_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _holds_corpus(server: str | None, folder: Path, size: int) -> bool:
    """Whether the size's store is there already: its folder, or a server database holding that
    many documents (taken to be this corpus, as a folder is)."""
    if server is None:
        return (folder / "store").exists()
    from hippograph.store import open_store

    store = open_store(server)  # an empty database gets the schema the ingest would make
    try:
        held = store.stats("default").documents
    finally:
        store.close()
    if held not in (0, size):
        raise SystemExit(f"{server} holds {held} documents, not this corpus: give it an empty database")
    return held == size and (folder / "corpus.jsonl").exists()


def _child(step: str, folder: Path, embedder: str, settings: list[str], server: str | None) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, "--root", str(folder), "--embedder", embedder]
        + [f"--set={setting}" for setting in settings]
        + ([f"--store={server}"] if server else []),
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(folder / "user-cache")},
    )
    if done.returncode:
        raise SystemExit(f"bench_scale.py: the {step} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_scale.py", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="passages per corpus, comma-separated")
    parser.add_argument("--root", type=Path, default=Path("/tmp/hippograph-scale"), help="where corpora and stores go")
    parser.add_argument("--fresh", action="store_true", help="generate and ingest again a size that is there")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument(
        "--embedder",
        choices=("hash", "model"),
        default="hash",
        help="deterministic vectors (default), or the embedding model (its stores go to n<size>-model)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Config field for ingest and queries, e.g. --set approximate_from_passages=50000",
    )
    parser.add_argument(
        "--store",
        metavar="URI",
        help="a graph server (bolt://HOST:PORT; user, password and database from NEO4J_*) instead of "
        "a folder per size: one size, into an empty database (or one holding that corpus already)",
    )
    parser.add_argument(
        "--cold-build",
        action="store_true",
        help="delete the views saved in the user cache before the first open, so that it builds the graph view",
    )
    parser.add_argument("--child", choices=("ingest", "query"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step = ingest if args.child == "ingest" else query
        print(json.dumps(step(args.root, args.embedder, args.set, args.store)))
        return 0
    sizes = [int(part) for part in args.sizes.split(",")]
    if args.store and len(sizes) != 1:
        parser.error("--store takes one size (its database holds one corpus)")
    rows = []
    for size in sizes:
        folder = args.root / (f"n{size}" if args.embedder == "hash" else f"n{size}-model")
        row: dict = {
            "n_passages": size,
            "embedder": args.embedder,
            "settings": args.set,
            "store": args.store or "folder",
        }
        if args.fresh or not _holds_corpus(args.store, folder, size):
            folder.mkdir(parents=True, exist_ok=True)
            if args.fresh or not (folder / "corpus.jsonl").exists():
                generate(size, folder)
            shutil.rmtree(folder / "user-cache", ignore_errors=True)  # no view of an earlier store
            row.update(_child("ingest", folder, args.embedder, args.set, args.store))
        if args.cold_build:
            shutil.rmtree(folder / "user-cache", ignore_errors=True)  # the first open builds the view
        row.update(_child("query", folder, args.embedder, args.set, args.store))
        again = _child("query", folder, args.embedder, args.set, args.store)
        row.update(
            reopen_ms=again["cold_open_ms"],
            reopen_query_p50_ms=again["query_p50_ms"],
            reopen_peak_rss_mb=again["query_peak_rss_mb"],
        )
        row["peak_rss_mb"] = max(row.get("ingest_peak_rss_mb", 0), row["query_peak_rss_mb"], row["reopen_peak_rss_mb"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"threads": THREADS, "rows": rows}, indent=2))
    return 0


def _table(rows: list[dict]) -> str:
    keys = [
        "n_passages",
        "ingest_s",
        "disk_mb",
        "cold_open_ms",
        "reopen_ms",
        "query_p50_ms",
        "query_p95_ms",
        "peak_rss_mb",
    ]
    lines = ["  ".join(f"{key:>13}" for key in keys)]
    lines += ["  ".join(f"{str(row.get(key, '')):>13}" for key in keys) for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
