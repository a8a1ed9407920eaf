"""Benchmark: ingest a corpus, then ingest it again; print wall time, peak memory and counts.

    python pipelines/bench_ingest.py ../shared/datasets/2wikimultihopqa/corpus.jsonl --store /tmp/w

The store folder is emptied first unless --keep is given; a graph server's database
(`--store bolt://HOST:PORT`, user, password and database from NEO4J_*) must be empty unless
--keep. Peak memory is the largest resident set of this process and, separately, of any child
process (spaCy's workers).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

from hippograph import Memory
from hippograph.eval.bench import store_location


def peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--store", type=store_location, required=True, help="a folder or a graph server URI")
    parser.add_argument("--keep", action="store_true", help="do not empty the store first")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if isinstance(args.store, Path) and args.store.exists() and not args.keep:
        shutil.rmtree(args.store)

    started = time.perf_counter()
    with Memory(args.store) as memory:
        if not args.keep and memory.stats().documents:
            parser.error(f"{args.store} holds a memory already: empty its database or pass --keep")
        first = memory.ingest(args.corpus)
        first_s = time.perf_counter() - started
        again_started = time.perf_counter()
        second = memory.ingest(args.corpus, progress=False)
        second_s = time.perf_counter() - again_started
        stats = memory.stats()

    result = {
        "corpus": str(args.corpus),
        "first_ingest_s": round(first_s, 1),
        "second_ingest_s": round(second_s, 2),
        "first": str(first),
        "second": str(second),
        "peak_rss_mib": round(peak_mib(resource.RUSAGE_SELF)),
        "peak_rss_children_mib": round(peak_mib(resource.RUSAGE_CHILDREN)),
        "stats": stats.__dict__,
    }
    print(f"first ingest   {first_s:8.1f} s   {first}")
    print(f"second ingest  {second_s:8.2f} s   {second}")
    print(f"peak memory    {result['peak_rss_mib']} MiB (main), {result['peak_rss_children_mib']} MiB (largest worker)")
    print(
        f"store          {stats.documents} documents, {stats.passages} passages, {stats.entities} entities, "
        f"{stats.facts} facts, {stats.synonym_edges} synonymy edges, {stats.links} links"
        + (f", {stats.size_bytes / 2**20:.0f} MiB" if isinstance(args.store, Path) else "")
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
