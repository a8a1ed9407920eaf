"""Benchmark: `hippograph serve` under load from concurrent clients, searching and adding.

    python pipelines/bench_serve.py --store /tmp/musique-graph-store --clients 32 --seconds 60 --json OUT.json

Serves a copy of the store (`--in-place`: the folder itself) with `hippograph serve` in a child
process on a free port of 127.0.0.1, then runs --clients closed-loop clients (asyncio tasks on one
httpx client, each sending its next request as soon as the last one answers) for --seconds after
a warm-up (--warmup requests one at a time) and a ramp (--ramp seconds at full load, untimed:
clients that all start at once send a burst no steady load has). A request is an add with
probability --add-share (a unique short note with a unique id,
into --namespace-for-adds, so the searched namespace stays as it was), else a search of
--namespace with a question from --questions. Any non-2xx reply or transport error, in the warm-up
or the load, is an error.
After the load, every acknowledged add (201) must be searchable: its note answers GET .../notes/ID
and a dense search (k=5) for its exact text returns it; each that does not is a lost write.
The server's log (one line per request) goes to OUT.server.log (a temporary file without --json).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hippograph.server.pool import MemoryPool

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO.parent / "shared" / "datasets" / "musique" / "questions-dev.jsonl"
STORE_FILE = "hippograph.sqlite"
FALLBACK_QUESTIONS = [
    "Who founded the company that makes the iPhone?",
    "Where was the author of Hamlet born?",
    "When did the city where the Eiffel Tower stands host the Olympics?",
]
WORDS = "river harbour lantern orchard violin glacier meadow falcon quarry compass saffron tundra".split()
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM")
MAX_ERROR_EXAMPLES = 5


@dataclass
class Load:
    """What the clients saw: latencies in seconds by kind, errors, and the acknowledged notes."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"search": [], "add": []})
    errors: int = 0
    examples: list[str] = field(default_factory=list)
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (note id, text)
    timing: bool = False  # latencies are kept only once the warm-up is over

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.examples) < MAX_ERROR_EXAMPLES:
            self.examples.append(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="store folder to serve (a copy, unless --in-place)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the timed load (default 30)")
    parser.add_argument("--add-share", type=float, default=0.2, help="share of requests that add a note (default 0.2)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="untimed requests of each kind, one at a time, before the clock starts (default 10)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=10,
        help="seconds the clients run at full load before the clock starts (default 10): clients that all "
        "start at once send a burst no steady load has",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        default=QUESTIONS if QUESTIONS.is_file() else None,
        help="JSONL with a 'question' per line (default: MuSiQue dev next to the checkout)",
    )
    parser.add_argument("--namespace", default="default", help="namespace searched (default 'default')")
    parser.add_argument(
        "--namespace-for-adds", default="bench-serve", help="namespace added to (default 'bench-serve')"
    )
    parser.add_argument("--method", default="hippograph", help="search method (default hippograph)")
    parser.add_argument("--k", type=int, default=5, help="passages per search (default 5)")
    parser.add_argument("--in-place", action="store_true", help="serve --store itself, not a copy (it keeps the adds)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the clients' choices")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args(argv)


def read_questions(path: Path | None) -> list[str]:
    if path is None:
        return FALLBACK_QUESTIONS
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["question"] for line in lines if line.strip()]


def served_copy(store: Path, into: Path) -> Path:
    """A copy of the store's database file in `into` (a closed store has no -wal/-shm to copy)."""
    if not (store / STORE_FILE).is_file():
        sys.exit(f"bench_serve: no store at {store} (no {STORE_FILE})")
    shutil.copy2(store / STORE_FILE, into / STORE_FILE)
    return into


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "hippograph.cli", "-v", "serve", "--store", str(store), "--port", str(port)]
    with log.open("w") as out:
        return subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def stop_server(process: subprocess.Popen, timeout_s: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_healthy(
    client: httpx.AsyncClient, process: subprocess.Popen, log: Path, timeout_s: float = 180
) -> float:
    """Seconds until /healthz answers; exits naming the log when the server dies or never answers."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            sys.exit(f"bench_serve: the server exited with {process.returncode}; see {log}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    sys.exit(f"bench_serve: no answer from /healthz in {timeout_s:.0f} s; see {log}")


async def send(client: httpx.AsyncClient, load: Load, kind: str, method: str, url: str, **options) -> dict | None:
    """One request, timed when sent after the clock started; its JSON reply when 2xx, else None
    and an error counted."""
    started, timed = time.perf_counter(), load.timing
    try:
        reply = await client.request(method, url, **options)
    except httpx.HTTPError as err:
        load.error(f"{kind}: {type(err).__name__}: {err}")
        return None
    if timed:
        load.latencies[kind].append(time.perf_counter() - started)
    if not reply.is_success:
        load.error(f"{kind}: HTTP {reply.status_code}: {reply.text[:200]}")
        return None
    return reply.json()


async def add(
    client: httpx.AsyncClient, load: Load, args: argparse.Namespace, run: str, name: str, rng: random.Random
) -> None:
    text = f"Bench note {name} of run {run}: the {rng.choice(WORDS)} by the {rng.choice(WORDS)} at {rng.random():.6f}."
    note = await send(
        client,
        load,
        "add",
        "POST",
        f"/v1/namespaces/{args.namespace_for_adds}/memories",
        json={"text": text, "id": f"bench-{run}-{name}"},
    )
    if note is not None:
        load.acknowledged.append((note["id"], text))


async def search(client: httpx.AsyncClient, load: Load, args: argparse.Namespace, question: str) -> None:
    await send(
        client,
        load,
        "search",
        "GET",
        f"/v1/namespaces/{args.namespace}/search",
        params={"q": question, "k": args.k, "method": args.method},
    )


async def client_loop(
    number: int,
    client: httpx.AsyncClient,
    load: Load,
    args: argparse.Namespace,
    run: str,
    questions: list[str],
    deadline: float,
) -> None:
    """One client: a request as soon as the last one answered, until the deadline."""
    rng = random.Random(f"{args.seed}-{number}")
    sent = 0
    while time.perf_counter() < deadline:
        sent += 1
        if rng.random() < args.add_share:
            await add(client, load, args, run, f"c{number}-{sent}", rng)
        else:
            await search(client, load, args, rng.choice(questions))


async def run_load(
    client: httpx.AsyncClient, args: argparse.Namespace, run: str, questions: list[str]
) -> tuple[Load, float]:
    """The warm-up, the ramp, then the timed closed loop: what was seen and the seconds it took
    (the requests sent after the clock started, until the last of them answered)."""
    load = Load()
    rng = random.Random(args.seed)
    for number in range(args.warmup):
        await search(client, load, args, rng.choice(questions))
        if args.add_share > 0:
            await add(client, load, args, run, f"warm-{number}", rng)
    deadline = time.perf_counter() + args.ramp + args.seconds
    clients = asyncio.gather(
        *(client_loop(n, client, load, args, run, questions, deadline) for n in range(args.clients))
    )
    await asyncio.sleep(args.ramp)
    load.timing = True
    started = time.perf_counter()
    await clients
    return load, time.perf_counter() - started


async def lost_writes(client: httpx.AsyncClient, load: Load, args: argparse.Namespace) -> int:
    """How many acknowledged notes are not there with their text, or not found by a dense search for it."""
    check = Load()  # its errors are lost writes, not load errors
    slots = asyncio.Semaphore(max(1, args.clients))

    async def found(note_id: str, text: str) -> bool:
        async with slots:
            where = f"/v1/namespaces/{args.namespace_for_adds}"
            stored = await send(client, check, "add", "GET", f"{where}/notes/{note_id}")
            hits = await send(
                client, check, "search", "GET", f"{where}/search", params={"q": text, "k": 5, "method": "dense"}
            )
            return (
                stored is not None
                and stored["text"] == text
                and hits is not None
                and note_id in {hit["id"] for hit in hits["hits"]}
            )

    results = await asyncio.gather(*(found(note_id, text) for note_id, text in load.acknowledged))
    return results.count(False)


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile in milliseconds; None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))], 1)


def threads() -> dict:
    """The thread settings the server inherits, and torch's count under them."""
    import torch  # here only: the benchmark itself needs no torch, and importing it takes a while

    return {
        "env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "torch_threads": torch.get_num_threads(),
        "server_read_memories": inspect.signature(MemoryPool.open).parameters["readers"].default,
        "client": "one asyncio thread",
    }


def git_commit() -> str | None:
    """The checkout's commit, with "-dirty" when its files differ from it (the server runs them)."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or None


async def bench(args: argparse.Namespace, store: Path, log: Path) -> dict:
    """Start the server on `store`, load it, check the writes, stop it: the results."""
    questions = read_questions(args.questions)
    run = f"{int(time.time())}-{os.getpid()}"
    port = free_port()
    limits = httpx.Limits(max_connections=args.clients + 1, max_keepalive_connections=args.clients + 1)
    load_average = os.getloadavg()[0]  # the machine may be shared: how busy it was before the server started
    process = start_server(store, port, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:
            startup_s = await wait_healthy(client, process, log)
            client_cpu_s = time.process_time()
            load, elapsed = await run_load(client, args, run, questions)
            client_cpu_s = time.process_time() - client_cpu_s
            lost = await lost_writes(client, load, args)
            passages = (await client.get("/v1/stats", params={"namespace": args.namespace})).json()["passages"]
    finally:
        stop_server(process)
    searches, adds = load.latencies["search"], load.latencies["add"]
    return {
        "searches_per_s": round(len(searches) / elapsed, 2),
        "search_p50_ms": percentile(searches, 0.5),
        "search_p99_ms": percentile(searches, 0.99),
        "errors": load.errors,
        "lost_writes": lost,
        "adds_per_s": round(len(adds) / elapsed, 2),
        "add_p50_ms": percentile(adds, 0.5),
        "add_p99_ms": percentile(adds, 0.99),
        "requests": len(searches) + len(adds),
        "acknowledged_adds": len(load.acknowledged),
        "error_examples": load.examples,
        "clients": args.clients,
        "ramp_s": args.ramp,
        "seconds": round(elapsed, 2),
        "add_share": args.add_share,
        "method": args.method,
        "k": args.k,
        "questions": len(questions),
        "store": str(args.store),
        "in_place": args.in_place,
        "passages": passages,
        "server_startup_s": round(startup_s, 1),
        "server_log": str(log),
        "threads": threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": round(load_average, 2),
        "client_cpu_s": round(client_cpu_s, 1),
        "commit": git_commit(),
    }


def summary(r: dict) -> str:
    return "\n".join(
        [
            f"{r['clients']} clients for {r['seconds']} s on {r['passages']} passages ({r['cpu_count']} CPUs, "
            f"torch {r['threads']['torch_threads']} threads), adds {r['add_share']:.0%} of requests:",
            f"  search: {r['searches_per_s']}/s, p50 {r['search_p50_ms']} ms, p99 {r['search_p99_ms']} ms",
            f"  add:    {r['adds_per_s']}/s, p50 {r['add_p50_ms']} ms, p99 {r['add_p99_ms']} ms",
            f"  the clients used {r['client_cpu_s']} s of CPU; load average before: {r['load_average_before']:.2f}",
            f"  errors {r['errors']}, lost writes {r['lost_writes']} of {r['acknowledged_adds']} acknowledged adds",
            *(f"  e.g. {example}" for example in r["error_examples"]),
            f"  server log: {r['server_log']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        store = args.store if args.in_place else served_copy(args.store, Path(scratch))
        log = args.json.with_suffix(".server.log") if args.json else Path(tempfile.mkstemp(".log", "bench-serve-")[1])
        results = asyncio.run(bench(args, store, log))
        print(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
