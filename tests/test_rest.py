"""`hippograph serve`: every route over HTTP against a real server process on a copy of the sample store."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import httpx
import pytest

from hippograph import Memory
from hippograph.server.pool import MemoryPool
from hippograph.server.rest import create_app
from hippograph.server.rest_models import MAX_BODY_BYTES
from hippograph.store import sqlite as sqlite_store
from hippograph.store import sqlite_connection

from .processes import free_port, stop

HIPPOGRAPH = [sys.executable, "-m", "hippograph.cli"]
KEY = "test-key-7f3a"
QUESTION = "Where was the founder of Brightwater Labs born?"
MIRA = "born in Veloria"  # in Mira Holt's passage (sample-02), the answer's second hop
ORIGIN, OTHER_ORIGIN = "https://app.example.org", "https://other.example.org"  # the module's server's --cors-origin


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HIPPOGRAPH_API_KEY", None)
    return env


class Server(NamedTuple):
    url: str
    log: Path
    store: Path
    process: subprocess.Popen


@pytest.fixture(scope="module")
def server(sample_store, tmp_path_factory) -> Iterator[Server]:
    """A `hippograph serve` process with a key and one CORS origin on a free port, over a copy of
    the sample store."""
    folder = tmp_path_factory.mktemp("rest") / "store"
    shutil.copytree(sample_store, folder)
    port = free_port()
    log_path = folder.parent / "server.log"
    with open(log_path, "w") as log_file:  # a file, not a pipe: no one reads a pipe, and a full one blocks the server
        process = subprocess.Popen(
            [
                *HIPPOGRAPH,
                "serve",
                "--store",
                str(folder),
                "--port",
                str(port),
                "--api-key",
                KEY,
                "--cors-origin",
                ORIGIN,
                "--cors-origin",
                OTHER_ORIGIN,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, process, log_path)
        yield Server(base, log_path, folder, process)
    finally:
        stop(process)


def _wait_until_healthy(base: str, process: subprocess.Popen, log_path: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the server did not answer /healthz within {timeout_s} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as api:
        yield api


def _count(client: httpx.Client, namespace: str) -> int:
    reply = client.get("/v1/stats", params={"namespace": namespace})
    assert reply.status_code == 200, reply.text
    return reply.json()["documents"]


# -- the key ---------------------------------------------------------------------


def test_every_route_but_healthz_needs_the_key(server, client):
    base = server.url
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": f"Basic {KEY}"}):
        for method, path in (
            ("GET", "/v1/stats"),
            ("GET", "/v1/namespaces/default/search?q=Mira"),
            ("GET", "/v1/namespaces/default/documents/sample-01"),
            ("DELETE", "/v1/namespaces/default"),
        ):
            reply = httpx.request(method, base + path, headers=headers)
            assert reply.status_code == 401, (method, path, headers)
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
            assert "API key" in reply.json()["detail"]
    # the key is checked before the body is read: a stranger learns nothing from a 422, and writes nothing
    stranger = httpx.post(
        f"{base}/v1/namespaces/default/memories", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert stranger.status_code == 401
    assert _count(client, "default") == 36


def test_openapi_docs_are_served_with_every_route(server):
    base = server.url
    assert httpx.get(f"{base}/docs").status_code == 200
    schema = httpx.get(f"{base}/openapi.json").json()
    assert schema["info"]["title"] == "hippograph"
    routes = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert routes == {
        ("POST", "/v1/namespaces/{ns}/memories"),
        ("POST", "/v1/namespaces/{ns}/documents"),
        ("GET", "/v1/namespaces/{ns}/search"),
        ("GET", "/v1/namespaces/{ns}/notes/{note_id}"),
        ("PUT", "/v1/namespaces/{ns}/notes/{note_id}"),
        ("DELETE", "/v1/namespaces/{ns}/notes/{note_id}"),
        ("GET", "/v1/namespaces/{ns}/documents/{document_id}"),
        ("DELETE", "/v1/namespaces/{ns}/documents/{document_id}"),
        ("DELETE", "/v1/namespaces/{ns}"),
        ("GET", "/v1/stats"),
        ("GET", "/healthz"),
    }


# -- reading -----------------------------------------------------------------------


def test_search_answers_the_demo_question_with_explanations(client):
    reply = client.get("/v1/namespaces/default/search", params={"q": QUESTION, "k": 3})
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["query"] == QUESTION and result["method"] == "hippograph"
    hits = result["hits"]
    assert len(hits) == 3
    assert any(MIRA in hit["text"] for hit in hits)
    assert set(hits[0]) >= {"id", "document_id", "title", "text", "score", "time", "why", "explanation"}
    assert hits[0]["explanation"]["why"] == hits[0]["why"]
    assert "Brightwater Labs" in hits[0]["explanation"]["question_entities"]

    dense = client.get("/v1/namespaces/default/search", params={"q": QUESTION, "k": 7, "method": "dense"}).json()
    assert dense["method"] == "dense" and len(dense["hits"]) == 7
    assert all(hit["explanation"]["method"] == "dense" for hit in dense["hits"])


def test_stats_of_the_store_and_of_one_namespace(client):
    whole = client.get("/v1/stats").json()
    assert whole["documents"] >= 36 and whole["passages"] >= whole["documents"]
    default = client.get("/v1/stats", params={"namespace": "default"}).json()
    assert (default["documents"], default["passages"]) == (36, 36)
    assert client.get("/v1/stats", params={"namespace": "nobody-here"}).json()["documents"] == 0


def test_unknown_ids_are_404(client):
    for path in ("/v1/namespaces/default/notes/no-such-note", "/v1/namespaces/default/documents/no-such-doc"):
        for method in ("GET", "DELETE"):
            reply = client.request(method, path)
            assert reply.status_code == 404, (method, path, reply.text)
            assert "no-such" in reply.json()["detail"]
    assert client.put("/v1/namespaces/default/notes/no-such-note", json={"text": "new"}).status_code == 404
    assert _count(client, "default") == 36


# -- writing -----------------------------------------------------------------------


def test_a_memory_is_added_found_changed_and_deleted(client):
    added = client.post(
        "/v1/namespaces/ada/memories",
        json={
            "text": "Ada Quill adopted a grey cat named Pebble.",
            "timestamp": "2024-05-01T09:30:00+02:00",
            "metadata": {"speaker": "ada"},
            "id": "turn-1",
        },
    )
    assert added.status_code == 201, added.text
    note = added.json()
    assert (note["namespace"], note["document_id"], note["metadata"]) == ("ada", "turn-1", {"speaker": "ada"})
    assert note["created_at"] == "2024-05-01T07:30:00+00:00"
    path = f"/v1/namespaces/ada/notes/{note['id']}"
    assert client.get(path).json() == note
    again = client.post(
        "/v1/namespaces/ada/memories",
        json={
            "text": "Ada Quill adopted a grey cat named Pebble.",
            "timestamp": "2024-05-01T09:30:00+02:00",
            "metadata": {"speaker": "ada"},
            "id": "turn-1",
        },
    )
    assert again.status_code == 201 and again.json()["id"] == note["id"]
    clash = client.post("/v1/namespaces/ada/memories", json={"text": "Something else.", "id": "turn-1"})
    assert clash.status_code == 422 and "update" in clash.json()["detail"]

    hits = client.get("/v1/namespaces/ada/search", params={"q": "What is the name of Ada's cat?"}).json()["hits"]
    assert hits[0]["id"] == note["id"]

    changed = client.put(path, json={"text": "Ada Quill adopted a black cat named Pebble."})
    assert changed.status_code == 200, changed.text
    assert changed.json()["text"] == "Ada Quill adopted a black cat named Pebble." and changed.json()["updated_at"]
    assert client.get(path).json()["metadata"] == {"speaker": "ada"}  # left out of the PUT: kept
    assert client.put(path, json={"metadata": {"speaker": "bo"}}).json()["metadata"] == {"speaker": "bo"}

    assert client.delete(path).json() == {"deleted": note["id"], "namespace": "ada"}
    assert client.get(path).status_code == 404
    assert _count(client, "ada") == 0


def test_documents_are_ingested_read_and_deleted(client):
    first = " ".join(f"The Harbor Guild of Oslen repaired lighthouse number {n} in spring." for n in range(20))
    second = " ".join(f"Captain Ines Varro inspected buoy {n} near Kettle Point." for n in range(25))
    records = [
        {
            "id": "guides/harbor",
            "title": "Harbor Guild",
            "text": f"{first}\n\n{second}",
            "metadata": {"source": "test"},
        },
        {"text": "Tomas Brill founded the Oslen Rowing Club."},
    ]
    report = client.post("/v1/namespaces/guild/documents", json=records)
    assert report.status_code == 200, report.text
    assert (report.json()["added"], report.json()["unchanged"]) == (2, 0)
    assert client.post("/v1/namespaces/guild/documents", json=records).json()["unchanged"] == 2

    document = client.get("/v1/namespaces/guild/documents/guides/harbor")  # an id with a slash
    assert document.status_code == 200, document.text
    stored = document.json()
    assert (stored["id"], stored["title"], stored["metadata"]) == ("guides/harbor", "Harbor Guild", {"source": "test"})
    assert len(stored["passage_ids"]) >= 2  # about 200 words a passage
    last = f"/v1/namespaces/guild/notes/{stored['passage_ids'][-1]}"
    assert "Captain Ines Varro" in client.get(last).json()["text"]
    # one passage of a longer document cannot change alone: the store refuses as it stands
    refused = client.put(last, json={"text": "Nothing."})
    assert refused.status_code == 409 and "passages" in refused.json()["detail"]

    assert client.delete("/v1/namespaces/guild/documents/guides/harbor").status_code == 200
    assert client.get("/v1/namespaces/guild/documents/guides/harbor").status_code == 404
    assert _count(client, "guild") == 1


def test_deleting_a_namespace_deletes_only_it(client):
    for text in ("Lena Ford plays the cello.", "Lena Ford lives in Tarrow."):
        assert client.post("/v1/namespaces/scratch/memories", json={"text": text}).status_code == 201
    assert client.delete("/v1/namespaces/scratch").json() == {"namespace": "scratch", "deleted_documents": 2}
    assert _count(client, "scratch") == 0
    assert _count(client, "default") == 36


def test_a_namespace_reaches_no_other_namespaces_data(client):
    note = client.post("/v1/namespaces/alice/memories", json={"text": "Alice's locker code is 4471."}).json()
    for method, body in (("GET", None), ("PUT", {"text": "Bob was here."}), ("DELETE", None)):
        reply = client.request(method, f"/v1/namespaces/bob/notes/{note['id']}", json=body)
        assert reply.status_code == 404, (method, reply.text)
    assert client.get(f"/v1/namespaces/bob/documents/{note['document_id']}").status_code == 404
    assert client.delete(f"/v1/namespaces/bob/documents/{note['document_id']}").status_code == 404
    assert client.get("/v1/namespaces/bob/documents/sample-01").status_code == 404
    assert client.get("/v1/namespaces/bob/search", params={"q": "What is Alice's locker code?"}).json()["hits"] == []
    alice_hits = client.get("/v1/namespaces/alice/search", params={"q": QUESTION, "k": 5}).json()["hits"]
    assert [hit["id"] for hit in alice_hits] == [note["id"]]  # none of the default namespace's passages
    gone = client.delete("/v1/namespaces/bob")  # bob holds nothing: there is nothing to delete
    assert gone.status_code == 404 and "namespace 'bob' holds nothing" in gone.json()["detail"]
    assert client.get(f"/v1/namespaces/alice/notes/{note['id']}").json()["text"] == "Alice's locker code is 4471."


def test_ids_that_look_like_paths_are_only_ids(client):
    """Decoded once, as given: an id that climbs out of its folder, or says so percent-encoded,
    names one document of one namespace (tests/reliability/test_rest_attack.py tries more)."""
    for value in ("../../etc/passwd", "%2e%2e%2f", "..%2F..%2Fdefault%2Fsample-01", "a\nb"):
        path = quote(value, safe="")
        added = client.post("/v1/namespaces/paths/memories", json={"text": f"Ida Sorn filed {value!r}.", "id": value})
        assert added.status_code == 201 and added.json()["document_id"] == value, added.text
        assert client.get(f"/v1/namespaces/paths/documents/{path}").json()["id"] == value
        assert client.get(f"/v1/namespaces/default/documents/{path}").status_code == 404
        assert client.delete(f"/v1/namespaces/paths/documents/{path}").status_code == 200
    assert _count(client, "paths") == 0
    assert _count(client, "default") == 36


# -- bad input -----------------------------------------------------------------------

MEMORIES = "/v1/namespaces/hostile/memories"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "content,headers,detail",
    [
        (b'{"text": "half', JSON, "not valid JSON"),
        (b'{"text": 42}', JSON, "body.text"),
        (b'{"text": "ok", "colour": "red"}', JSON, "body.colour: Extra inputs are not permitted"),
        (json.dumps({"text": "x" * 100_001}).encode(), JSON, "at most 100000 characters"),
        (b'{"text": ""}', JSON, "body.text"),
        (b'{"text": "   "}', JSON, "empty"),
        (b'{"text": "ok", "metadata": ["a"]}', JSON, "body.metadata"),
        (b'{"text": "ok", "metadata": {"n": NaN}}', JSON, "cannot be stored"),
        (b'{"text": "ok \\ud800"}', JSON, "body.text"),  # a lone surrogate: not Unicode text
        (b'{"text": "ok", "timestamp": "last tuesday"}', JSON, "ISO 8601"),
        (b'["ok"]', JSON, "body"),
        (b"text=ok", {"Content-Type": "text/plain"}, "body"),
        (b"", JSON, "body"),
    ],
)
def test_a_bad_memory_body_is_422_and_stores_nothing(client, content, headers, detail):
    reply = client.post(MEMORIES, content=content, headers=headers)
    assert reply.status_code == 422, reply.text
    assert detail in reply.json()["detail"] and "\n" not in reply.json()["detail"]
    assert _count(client, "hostile") == 0


def test_a_body_in_another_encoding_or_too_big_is_refused(server, client):
    latin1 = client.post(MEMORIES, content='{"text": "café"}'.encode("latin-1"), headers=JSON)
    assert latin1.status_code == 422 and latin1.json()["detail"].startswith("body: not UTF-8")
    # only the headers are sent: the size is refused before a byte of the body is read
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", MEMORIES)
    connection.putheader("Authorization", f"Bearer {KEY}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "at most" in json.loads(response.read())["detail"]
    connection.close()
    assert _count(client, "hostile") == 0


def _post_streamed(server: Server, path: str, chunks: Iterable[bytes]) -> tuple[int, dict]:
    """POST a body without Content-Length (chunked transfer encoding, as http.client sends an
    iterable): its size is known only as it arrives."""
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    try:
        connection.request("POST", path, body=chunks, headers={"Authorization": f"Bearer {KEY}", **JSON})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _note_body(size: int) -> Iterator[bytes]:
    """A memory's JSON body of exactly `size` bytes, in pieces of 1 MiB."""
    head, tail = b'{"text": "', b'"}'
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(left, 1 << 20)
        left -= 1 << 20
    yield tail


def test_a_streamed_body_is_cut_off_at_the_limit(server, client):
    status, reply = _post_streamed(server, MEMORIES, _note_body(MAX_BODY_BYTES + 1))
    assert status == 413 and f"at most {MAX_BODY_BYTES}" in reply["detail"]
    status, reply = _post_streamed(server, MEMORIES, _note_body(3 * MAX_BODY_BYTES))
    assert status == 413
    # at the limit the body is read, and refused for what it says, not for its size
    status, reply = _post_streamed(server, MEMORIES, _note_body(MAX_BODY_BYTES))
    assert status == 422 and "body.text" in reply["detail"]
    # a small streamed body is an ordinary request
    status, reply = _post_streamed(
        server, "/v1/namespaces/streamed/memories", iter([b'{"text": "Pia Lund ', b'rows on Lake Vell."}'])
    )
    assert status == 201 and reply["text"] == "Pia Lund rows on Lake Vell."
    assert _count(client, "hostile") == 0


@pytest.mark.parametrize(
    "path,params,detail",
    [
        ("/v1/namespaces/hostile/search", {"q": QUESTION, "k": 0}, "query.k"),
        ("/v1/namespaces/hostile/search", {"q": QUESTION, "k": 101}, "query.k"),
        ("/v1/namespaces/hostile/search", {"q": QUESTION, "k": "five"}, "query.k"),
        ("/v1/namespaces/hostile/search", {"q": QUESTION, "method": "splade"}, "query.method"),
        ("/v1/namespaces/hostile/search", {}, "query.q"),
        ("/v1/namespaces/hostile/search", {"q": "  "}, "the query text is empty"),
        ("/v1/namespaces/hostile/search", {"q": QUESTION, "since": "someday"}, "ISO 8601"),
        ("/v1/stats", {"namespace": ""}, "query.namespace"),
    ],
)
def test_bad_query_parameters_are_422(client, path, params, detail):
    reply = client.get(path, params=params)
    assert reply.status_code == 422, reply.text
    assert detail in reply.json()["detail"]


@pytest.mark.parametrize("body", [[], {"text": "not in a list"}, [{"title": "no text"}], [{"text": "ok", "id": 7}]])
def test_a_bad_documents_body_is_422_and_stores_nothing(client, body):
    reply = client.post("/v1/namespaces/hostile/documents", json=body)
    assert reply.status_code == 422, reply.text
    assert _count(client, "hostile") == 0


# -- browsers (CORS) -----------------------------------------------------------------

PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}


def test_only_the_named_origins_get_cors_headers(server):
    base, stranger = server.url, "https://evil.example.net"
    for origin in (ORIGIN, OTHER_ORIGIN):
        allowed = httpx.options(f"{base}/v1/stats", headers={"Origin": origin, **PREFLIGHT})
        assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == origin
        assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    read = httpx.get(f"{base}/v1/stats", headers={"Origin": ORIGIN, "Authorization": f"Bearer {KEY}"})
    assert read.status_code == 200 and read.headers["Access-Control-Allow-Origin"] == ORIGIN
    # the page may read the refusal too, so that it can ask its user for the key
    refused = httpx.get(f"{base}/v1/stats", headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == ORIGIN

    preflight = httpx.options(f"{base}/v1/stats", headers={"Origin": stranger, **PREFLIGHT})
    assert preflight.status_code == 400 and "Access-Control-Allow-Origin" not in preflight.headers
    # answered (the key is right), but without the header a browser keeps it from the page
    other = httpx.get(f"{base}/v1/stats", headers={"Origin": stranger, "Authorization": f"Bearer {KEY}"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers


def test_without_cors_origins_no_origin_gets_cors_headers(sample_store, embedder, extractor):
    pool = MemoryPool(
        lambda: Memory(sample_store, embedder=embedder, extractor=extractor, create=False), read_only=True
    )
    with _test_client(create_app(pool)) as local:
        preflight = local.options("/v1/stats", headers={"Origin": ORIGIN, **PREFLIGHT})
        assert preflight.status_code == 405
        read = local.get("/v1/stats", headers={"Origin": ORIGIN})
        assert read.status_code == 200
        for reply in (preflight, read):
            assert not any(name.lower().startswith("access-control-") for name in reply.headers)


def test_cors_origins_are_given_to_serve_one_by_one():
    from hippograph.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["serve", "--store", "s"]).cors_origins is None
    assert parse(
        ["serve", "--store", "s", "--cors-origin", ORIGIN, "--cors-origin", "http://localhost:3000"]
    ).cors_origins == [ORIGIN, "http://localhost:3000"]


# -- a bug ---------------------------------------------------------------------------

SECRET = "/srv/private/keys.txt"  # what a bug's message might show: it must not reach a client


class _BrokenPool:
    """A test double, the only one in this file: a pool whose memory fails every call with a
    plain RuntimeError, as a bug would. Nothing real fails that way on purpose."""

    read_only = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[_BrokenPool]:
        yield self

    writing = reading

    def close(self) -> None:
        pass

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            raise RuntimeError(f"{name} failed reading {SECRET}")

        return fail


def test_a_bug_is_a_plain_500_and_its_traceback_goes_to_the_log(caplog):
    with caplog.at_level(logging.ERROR, logger="hippograph.server.rest"):
        with _test_client(create_app(_BrokenPool(), api_key=KEY)) as local:
            local.headers["Authorization"] = f"Bearer {KEY}"
            replies = [
                local.get("/v1/stats"),
                local.get("/v1/namespaces/a/search", params={"q": "Who?"}),
                local.post("/v1/namespaces/a/memories", json={"text": "Ana sings."}),
                local.delete("/v1/namespaces/a/notes/n1"),
            ]
    for reply in replies:
        assert reply.status_code == 500, reply.text
        assert reply.json() == {"detail": "internal error; see the server log"}
        assert SECRET not in reply.text and "RuntimeError" not in reply.text and "Traceback" not in reply.text
    failures = [record for record in caplog.records if record.exc_info]
    assert len(failures) == 4 and "GET /v1/stats failed" in failures[0].getMessage()
    assert SECRET in str(failures[0].exc_info[1])
    assert "Traceback" in caplog.text  # the log has the whole story


# -- many at once --------------------------------------------------------------------


def test_concurrent_adds_and_searches_lose_nothing(server, client):
    texts = [f"Visitor {n} to the Quarry Museum signed the guest book as Elm-{n}." for n in range(25)]

    async def crowd() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=300,
            limits=httpx.Limits(max_connections=50),
        ) as api:
            adds = [api.post("/v1/namespaces/crowd/memories", json={"text": text}) for text in texts]
            searches = [api.get("/v1/namespaces/default/search", params={"q": QUESTION, "k": 3}) for _ in range(25)]
            mixed = [request for pair in zip(adds, searches) for request in pair]
            return await asyncio.gather(*mixed)

    replies = asyncio.run(crowd())
    added, searched = replies[0::2], replies[1::2]
    assert [reply.status_code for reply in added] == [201] * 25, [r.text for r in added if r.status_code != 201]
    for reply in searched:
        assert reply.status_code == 200, reply.text
        assert any(MIRA in hit["text"] for hit in reply.json()["hits"])

    assert _count(client, "crowd") == 25
    assert client.get("/v1/stats", params={"namespace": "crowd"}).json()["passages"] == 25
    for text, reply in zip(texts, added):
        assert client.get(f"/v1/namespaces/crowd/notes/{reply.json()['id']}").json()["text"] == text


def test_requests_are_logged_only_when_verbose(server, client, sample_store, tmp_path, embedder, extractor, caplog):
    client.get("/v1/stats")
    assert "GET /v1/stats -> 200" not in server.log.read_text()  # the module's server runs without -v
    pool = MemoryPool(
        lambda: Memory(sample_store, embedder=embedder, extractor=extractor, create=False), read_only=True
    )
    try:
        with caplog.at_level(logging.INFO, logger="hippograph.server.rest"):
            with _test_client(create_app(pool)) as local:
                assert local.get("/v1/stats").status_code == 200  # no key given: none needed
        assert any("GET /v1/stats -> 200" in record.getMessage() for record in caplog.records)
    finally:
        pool.close()


# -- the store busy, the command refused -------------------------------------------


def test_a_busy_store_is_503_with_retry_after_and_nothing_written(
    sample_store, tmp_path, embedder, extractor, monkeypatch
):
    # A real lock held by another connection, as another process's write holds it; the wait
    # for it is cut from 30 s so that the test does not take that long.
    monkeypatch.setattr(sqlite_connection, "_BUSY_TIMEOUT_S", 0.2)
    folder = tmp_path / "store"
    shutil.copytree(sample_store, folder)
    pool = MemoryPool(lambda: Memory(folder, embedder=embedder, extractor=extractor))
    other_writer = sqlite3.connect(folder / sqlite_store.STORE_FILE, isolation_level=None)
    try:
        with _test_client(create_app(pool)) as local:
            other_writer.execute("BEGIN IMMEDIATE")
            busy = local.post("/v1/namespaces/default/memories", json={"text": "Nia Park sells kites."})
            assert busy.status_code == 503 and busy.headers["Retry-After"].isdigit()
            assert "busy" in busy.json()["detail"]
            other_writer.execute("ROLLBACK")
            assert local.get("/v1/stats", params={"namespace": "default"}).json()["documents"] == 36
            retried = local.post("/v1/namespaces/default/memories", json={"text": "Nia Park sells kites."})
            assert retried.status_code == 201, retried.text
    finally:
        other_writer.close()
        pool.close()


def _test_client(app):
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "example.org"])
def test_serving_beyond_this_machine_without_a_key_is_refused_before_loading(tmp_path, host):
    folder = tmp_path / "store"
    started = time.monotonic()
    result = subprocess.run(
        [*HIPPOGRAPH, "serve", "--store", str(folder), "--host", host],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"hippograph: error: refusing to serve on {host} without an API key")
    assert "--api-key" in result.stderr
    assert not folder.exists()  # no store was opened, no model loaded
    assert time.monotonic() - started < 60


def test_sigterm_stops_the_server_after_closing_the_store(server, client):
    """Last in this file: it stops the module's server, as a service manager would."""
    assert (
        client.post("/v1/namespaces/last/memories", json={"text": "Oda Venn rings the noon bell."}).status_code == 201
    )
    server.process.terminate()
    server.process.wait(timeout=60)
    assert "Application shutdown complete" in server.log.read_text()
    # SQLite folds its write-ahead log into the store when the last connection closes
    assert not (server.store / f"{sqlite_store.STORE_FILE}-wal").exists()
    with Memory(server.store, create=False) as memory:
        assert memory.stats("last").documents == 1
