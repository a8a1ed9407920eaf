"""Benchmark: the graph-exploration features on a store: topics, exports, query subgraphs, drawings.

    python pipelines/bench_graph.py --store /tmp/musique-graph-store [--runs 5] [--json OUT.json]

When the store folder does not exist (or holds no documents) the corpus (default: MuSiQue's, in
../shared/datasets next to the checkout) is ingested into it first with the default offline
ingest (spaCy, the default embedding model) and the ingest is timed; an existing store is used as
it is. Then, on the default namespace, it times `Memory.topics()`, `to_networkx()`, `to_igraph()`,
`write_graph(..., FILE.graphml)`, `networkx.read_graphml` of that file, `Memory.subgraph(q)` for the
first --questions-limit questions and `hippograph.viz.to_svg` of those subgraphs. Each timing is a
first (cold) run, reported apart, then the median of --runs more. The first query of a store
builds its graph view: that (one query included) is `view_build_s`, taken before anything else.
Models are loaded, and garbage is collected, before any clock starts.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import networkx as nx
from threadpoolctl import ThreadpoolController

from hippograph.eval.bench import benchmark_main, config_from, open_memory, store_location
from hippograph.eval.questions import load_questions
from hippograph.graph.export import write_graph
from hippograph.viz import to_svg

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"  # ../shared/datasets


def timed(call: Callable[[], Any], runs: int) -> tuple[Any, float, list[float]]:
    """`call`'s result, the seconds of its first run, and the seconds of `runs` more. Garbage is
    collected before each run, off the clock: a networkx graph is freed only by the cycle
    collector, whose pass over the previous run's graph would otherwise land in a later run."""
    gc.collect()
    started = time.perf_counter()
    result = call()
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return result, first, times


def median(values: list[float], scale: float = 1.0, digits: int = 3) -> float | None:
    """The median of `values` times `scale`, rounded; None when there are none."""
    return round(float(statistics.median(values)) * scale, digits) if values else None


def spread(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else {}


def subgraph_runs(memory, text: str, k: int, runs: int) -> tuple[dict, list[float], list[float], str]:
    """`runs` times `memory.subgraph(text, k)` (timed as its query and the subgraph built from
    the hits), then `runs` times `to_svg` of it: a row of sizes and medians (the first run left
    out), the seconds of each subgraph and drawing, and the SVG. A failure is the row's "error"."""
    query_s, graph_s, svg_s = [], [], []
    try:
        for _ in range(runs):
            gc.collect()
            started = time.perf_counter()
            hits = memory.query(text, k)
            middle = time.perf_counter()
            subgraph = hits.subgraph()
            query_s.append(middle - started)
            graph_s.append(time.perf_counter() - middle)
    except Exception as err:  # a benchmark reports a failing feature rather than stopping
        return {"error": f"{type(err).__name__}: {err}"}, [], [], ""
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        svg = to_svg(subgraph)
        svg_s.append(time.perf_counter() - started)
    kinds = Counter(kind for _, kind in subgraph.nodes(data="kind"))
    undirected = nx.Graph(subgraph)
    row = {
        "nodes": subgraph.number_of_nodes(),
        "edges": subgraph.number_of_edges(),
        "entities": kinds["entity"],
        "passages": kinds["passage"],
        "seeds": sum(1 for _, a in subgraph.nodes(data=True) if a.get("kind") == "entity" and a.get("seed")),
        "isolated_hits": sum(1 for n, rank in subgraph.nodes(data="rank") if rank and not undirected.degree(n)),
        "subgraph_ms": median([q + g for q, g in zip(query_s[1:], graph_s[1:])], 1000, 2),
        "query_ms": median(query_s[1:], 1000, 2),
        "build_ms": median(graph_s[1:], 1000, 2),
        "svg_s": median(svg_s[1:]),
        "svg_bytes": len(svg.encode()),
    }
    return row, [q + g for q, g in zip(query_s, graph_s)], svg_s, svg


def thread_report(blas_limit: int | None) -> dict:
    """The cores, and the threads numpy/scipy's BLAS, OpenMP and torch use while timing."""
    import torch

    pools = ThreadpoolController().info()
    return {
        "cpu_count": os.cpu_count(),
        "blas_limit": blas_limit,
        "pools": [
            {
                "user_api": p["user_api"],
                "internal_api": p["internal_api"],
                "prefix": p["prefix"],
                "num_threads": p["num_threads"],
            }
            for p in sorted(pools, key=lambda p: (p["user_api"], p["prefix"], p["num_threads"]))
        ],
        "torch": torch.get_num_threads(),
    }


def run(args: argparse.Namespace) -> dict:
    questions = load_questions(args.questions)[: args.questions_limit]
    config = config_from(args.settings)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    building = isinstance(args.store, Path) and not args.store.exists()
    memory = open_memory(args.store, config, reuse=True)
    ingest_s = None
    with memory:
        if building or not memory.stats().documents:
            started = time.perf_counter()
            report = memory.ingest(args.corpus)
            ingest_s = time.perf_counter() - started
            print(f"ingested {args.corpus} into {args.store} in {ingest_s:.1f} s: {report}", file=sys.stderr)
        stats = memory.stats()
        blas = args.blas_threads
        with ThreadpoolController().limit(limits=blas, user_api="blas") if blas else nullcontext():
            threads = thread_report(args.blas_threads)
            results = measure(memory, questions, args)
        results["config"] = {
            "store": str(args.store),
            "corpus": str(args.corpus) if ingest_s is not None else None,
            "questions": str(args.questions),
            "questions_count": len(questions),
            "runs": args.runs,
            "k": args.k,
            "extractor": memory.extractor_name,
            "embedding_model": memory.embedding_model_name,
            "settings": list(args.settings),
        }
    results["threads"] = threads
    results["store"] = {
        "built": ingest_s is not None,
        "ingest_s": None if ingest_s is None else round(ingest_s, 1),
        "documents": stats.documents,
        "passages": stats.passages,
        "entities": stats.entities,
        "facts": stats.facts,
        "synonym_edges": stats.synonym_edges,
        "links": stats.links,
    }
    return {key: results[key] for key in ("config", "threads", "store", "sizes", "timing", "topics", "per_question")}


def measure(memory, questions, args: argparse.Namespace) -> dict:
    runs = args.runs
    started = time.perf_counter()
    memory.query("build the graph view before the clock starts", k=1)
    view_build_s = time.perf_counter() - started

    topics, topics_first, topics_times = timed(memory.topics, runs)
    graph, nx_first, nx_times = timed(memory.to_networkx, runs)
    igraph, ig_first, ig_times = timed(memory.to_igraph, runs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.graphml"
        _, write_first, write_times = timed(lambda: write_graph(graph, path), runs)
        graphml_bytes = path.stat().st_size
        read_back, read_first, read_times = timed(lambda: nx.read_graphml(path), runs)

    per_question, subgraph_times, svg_times = [], [], []
    subgraph_first = svg_first = None
    for number, question in enumerate(questions, 1):
        row, total_s, svg_s, svg = subgraph_runs(memory, question.question, args.k, runs + 1)
        per_question.append({"id": question.id, "question": question.question, **row})
        if not total_s:
            continue
        if subgraph_first is None:  # the store's very first subgraph and drawing are the cold runs
            subgraph_first, svg_first = total_s[0], svg_s[0]
        subgraph_times += total_s[1:]
        svg_times += svg_s[1:]
        if args.svg_dir:
            args.svg_dir.mkdir(parents=True, exist_ok=True)
            (args.svg_dir / f"{number:02d}-{question.id}.svg").write_text(svg)

    edge_kinds = Counter(kind for _, _, kind in graph.edges(data="kind"))
    node_kinds = Counter(kind for _, kind in graph.nodes(data="kind"))
    drawn = [q for q in per_question if "error" not in q]
    nodes = [q["nodes"] for q in drawn]
    return {
        "sizes": {
            "nodes": graph.number_of_nodes(),
            "edges": graph.number_of_edges(),
            "entity_nodes": node_kinds["entity"],
            "passage_nodes": node_kinds["passage"],
            "edges_by_kind": {kind: edge_kinds[kind] for kind in sorted(edge_kinds)},
            "igraph_vertices": igraph.vcount(),
            "igraph_edges": igraph.ecount(),
            "graphml_bytes": graphml_bytes,
            "graphml_read_nodes": read_back.number_of_nodes(),
            "graphml_read_edges": read_back.number_of_edges(),
            "topics": len(topics),
            "topic_entities": sum(t.size for t in topics),
            "largest_topic": max((t.size for t in topics), default=0),
            "topic_passages": sum(t.passages for t in topics),
            "subgraph_nodes": spread(nodes),
            "subgraph_edges": spread([q["edges"] for q in drawn]),
            "subgraphs_over_60_nodes": sum(n > 60 for n in nodes),
            "subgraph_isolated_hits": sum(q["isolated_hits"] for q in drawn),
            "subgraph_errors": len(per_question) - len(drawn),
        },
        "timing": {
            "view_build_s": round(view_build_s, 3),
            "topics_first_s": round(topics_first, 3),
            "topics_median_s": median(topics_times),
            "to_networkx_first_s": round(nx_first, 3),
            "to_networkx_median_s": median(nx_times),
            "to_igraph_first_s": round(ig_first, 3),
            "to_igraph_median_s": median(ig_times),
            "write_graphml_first_s": round(write_first, 3),
            "write_graphml_median_s": median(write_times),
            "read_graphml_first_s": round(read_first, 3),
            "read_graphml_median_s": median(read_times),
            "subgraph_first_ms": round(subgraph_first * 1000, 2) if subgraph_first is not None else None,
            "subgraph_median_ms": median(subgraph_times, 1000, 2),
            "subgraph_max_ms": round(max(subgraph_times) * 1000, 2) if subgraph_times else None,
            "subgraph_query_median_ms": median([q["query_ms"] for q in drawn], digits=2),
            "subgraph_build_median_ms": median([q["build_ms"] for q in drawn], digits=2),
            "svg_first_s": round(svg_first, 3) if svg_first is not None else None,
            "svg_median_s": median(svg_times),
            "svg_max_s": round(max(svg_times), 3) if svg_times else None,
        },
        "topics": [
            {"id": t.id, "size": t.size, "passages": t.passages, "entities": list(t.entities)}
            for t in topics[: args.show_topics]
        ],
        "per_question": per_question,
    }


def format_table(results: dict) -> str:
    t, s, store, threads = results["timing"], results["sizes"], results["store"], results["threads"]
    pools = ", ".join(f"{p['prefix']} {p['num_threads']}" for p in threads["pools"])
    lines = [
        f"store     {results['config']['store']}: {store['passages']} passages, {store['entities']} entities, "
        f"{store['facts']} facts" + (f" (ingested in {store['ingest_s']:.1f} s)" if store["built"] else " (existing)"),
        f"threads   {threads['cpu_count']} cores; {pools}; torch {threads['torch']}",
        f"graph     {s['nodes']} nodes, {s['edges']} edges ("
        + ", ".join(f"{kind} {count}" for kind, count in s["edges_by_kind"].items())
        + ")",
        f"topics    {s['topics']} (largest {s['largest_topic']} entities; {s['topic_entities']} entities in all)",
        "",
        f"{'operation':<34}{'first':>10}{'median':>10}",
        f"{'view build (first query)':<34}{t['view_build_s']:>9.3f}s{'':>10}",
        f"{'topics()':<34}{t['topics_first_s']:>9.3f}s{t['topics_median_s']:>9.3f}s",
        f"{'to_networkx()':<34}{t['to_networkx_first_s']:>9.3f}s{t['to_networkx_median_s']:>9.3f}s",
        f"{'to_igraph()':<34}{t['to_igraph_first_s']:>9.3f}s{t['to_igraph_median_s']:>9.3f}s",
        f"{'write_graph(.graphml)':<34}{t['write_graphml_first_s']:>9.3f}s{t['write_graphml_median_s']:>9.3f}s"
        f"   {s['graphml_bytes'] / 2**20:.1f} MiB",
        f"{'networkx.read_graphml':<34}{t['read_graphml_first_s']:>9.3f}s{t['read_graphml_median_s']:>9.3f}s"
        f"   {s['graphml_read_nodes']} nodes, {s['graphml_read_edges']} edges",
    ]
    if s["subgraph_nodes"]:
        nodes, edges = s["subgraph_nodes"], s["subgraph_edges"]
        lines += [
            f"{'subgraph(q), ms (max ' + format(t['subgraph_max_ms'], '.1f') + ')':<34}"
            f"{t['subgraph_first_ms']:>8.1f}ms{t['subgraph_median_ms']:>8.1f}ms"
            f"   query {t['subgraph_query_median_ms']:.1f} + graph {t['subgraph_build_median_ms']:.1f} ms",
            f"{'viz.to_svg(subgraph) (max ' + format(t['svg_max_s'], '.2f') + ' s)':<34}"
            f"{t['svg_first_s']:>9.3f}s{t['svg_median_s']:>9.3f}s",
            "",
            f"subgraphs (k = {results['config']['k']}) of {len(results['per_question'])} questions: nodes "
            f"min/median/max {nodes['min']}/{nodes['median']:g}/{nodes['max']}, "
            f"edges {edges['min']}/{edges['median']:g}/{edges['max']}; "
            f"{s['subgraphs_over_60_nodes']} over 60 nodes; {s['subgraph_isolated_hits']} returned passages without "
            f"an edge; {s['subgraph_errors']} failed",
        ]
    if results["per_question"]:
        lines.append(
            f"{'question':<24}{'nodes':>6}{'edges':>6}{'ent':>5}{'pas':>5}{'seeds':>6}{'alone':>6}{'ms':>8}{'svg s':>7}"
        )
        lines += [
            f"{q['id'][:23]:<24}  {q['error'][:80]}"
            if "error" in q
            else f"{q['id'][:23]:<24}{q['nodes']:>6}{q['edges']:>6}{q['entities']:>5}{q['passages']:>5}"
            f"{q['seeds']:>6}{q['isolated_hits']:>6}{q['subgraph_ms']:>8.1f}{q['svg_s']:>7.2f}"
            for q in results["per_question"]
        ]
    if results["topics"]:
        lines += ["", "largest topics:"]
        lines += [
            f"  {topic['id']:>3}. {topic['size']:>5} entities, {topic['passages']:>4} passages: "
            + ", ".join(topic["entities"])
            for topic in results["topics"]
        ]
    return "\n".join(lines)


def _at_least_one(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_graph", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store",
        type=store_location,
        required=True,
        help="store folder (built from --corpus when it does not exist) or a graph server URI",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DATASETS / "musique" / "corpus.jsonl",
        help="JSONL records {id, title, text}, ingested only into a new or empty store",
    )
    parser.add_argument("--questions", type=Path, default=DATASETS / "musique" / "questions-dev.jsonl")
    parser.add_argument("--questions-limit", type=int, default=10, help="subgraphs of the first N questions")
    parser.add_argument("-k", "--k", type=int, default=5, help="passages a subgraph's query returns")
    parser.add_argument("--runs", type=_at_least_one, default=5, help="timed runs after the first (median reported)")
    parser.add_argument("--blas-threads", type=int, help="limit numpy/scipy BLAS threads (default: as they are)")
    parser.add_argument("--torch-threads", type=int, help="torch's intra-op threads (default: torch's own)")
    parser.add_argument("--show-topics", type=int, default=10, help="largest topics printed and kept in the JSON")
    parser.add_argument("--svg-dir", type=Path, help="also write each question's subgraph drawing here")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Config field, e.g. --set topic_edge_weight=0 (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    return benchmark_main(argv, parser, run, format_table)


if __name__ == "__main__":
    sys.exit(main())
