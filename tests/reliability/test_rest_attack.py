"""The REST door under attack (the Python and command-line doors: test_bad_input.py and
test_tenancy.py): bad input, hostile ids and keys, tenancy, and the API fuzzed from its own
OpenAPI spec. Each runs the real app over a real SQLite store with the real models, in this
process (TestClient, schemathesis's ASGI client); tests/test_rest.py drives a server process.

The fuzz generates HIPPOGRAPH_FUZZ_EXAMPLES requests an operation, besides the spec's own examples
and boundary cases (default 300: the whole file takes about 45 s on two cores; 2,000, about 3
minutes, for a longer hunt).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from hippograph import Memory
from hippograph.server.pool import MemoryPool
from hippograph.server.rest import create_app
from hippograph.server.rest_models import MAX_BODY_BYTES, MAX_METADATA_DEPTH

from ..conftest import EVERY_RECORD
from ..invariants import comparable, dangling, records
from ..test_namespaces import CONFIG, QUESTIONS, fill, ids_of
from .test_hostile_ids import HOSTILE

KEY = "attack-key-5c1e9a"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Content-Type": "application/json"}
INTERNAL_ERROR = {"detail": "internal error; see the server log"}
FUZZ_EXAMPLES = int(os.environ.get("HIPPOGRAPH_FUZZ_EXAMPLES", "300"))
# Links and evolution on (a leak through them would show), and every kind of record written, so
# that `dangling` checks them all; the server's memories write with it too.
TENANTS_CONFIG = dataclasses.replace(
    CONFIG, synonym_threshold=EVERY_RECORD.synonym_threshold, fact_weight=EVERY_RECORD.fact_weight
)


@pytest.fixture(scope="module")
def tenants(tmp_path_factory, embedder, extractor) -> Path:
    """A store with namespaces alice and bob: the same people, the same document ids, one identical
    text (tests/test_namespaces.py's `fill`), so that a leak through any of them would show."""
    folder = tmp_path_factory.mktemp("rest-tenants") / "store"
    with Memory(folder, TENANTS_CONFIG, embedder=embedder, extractor=extractor) as memory:
        for namespace in ("alice", "bob"):
            fill(memory, namespace)
    return folder


@pytest.fixture
def store(tenants, tmp_path) -> Path:
    folder = tmp_path / "store"
    shutil.copytree(tenants, folder)
    return folder


@pytest.fixture
def api(store, embedder, extractor) -> Iterator[TestClient]:
    """A client with the key, of the app over a private copy of `tenants`."""
    pool = MemoryPool(lambda: Memory(store, TENANTS_CONFIG, embedder=embedder, extractor=extractor))
    with TestClient(create_app(pool, api_key=KEY), raise_server_exceptions=False, headers=AUTH) as client:
        yield client  # leaving the block shuts the app down, which closes the pool


def _state(store: Path, embedder, extractor) -> list[dict]:
    """Every record of the store (times and vectors aside), after checking that none dangles."""
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        found = records(memory)
    assert dangling(found) == []
    return comparable(found)


def _one_line_detail(reply) -> str:
    body = reply.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), reply.text
    assert "\n" not in body["detail"] and "Traceback" not in body["detail"]
    return body["detail"]


def _nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"inner": value}
    return value


def _chunks(size: int) -> Iterator[bytes]:
    """A body of `size` bytes in pieces: httpx sends an iterator chunked, without Content-Length."""
    for start in range(0, size, 1 << 20):
        yield b"x" * min(1 << 20, size - start)


# -- a table of bad input ----------------------------------------------------------------------
# The memories route's basic cases (broken JSON, a wrong type, an unknown field, empty, whitespace
# and over-long text, NaN, a lone surrogate, a bad time, an empty body) are tests/test_rest.py's,
# against a server process; these take the other routes, and what that table lacks.

NOTE = "{alice-n0}"  # stands for the id of alice's note n0, which exists: only the input is wrong
A_MEMORY = {"text": "Mira Holt paints in Veloria."}
CASES = [
    # (case, method, path, request keywords (or what makes them, for a body too big to keep), status,
    #  a fragment of the detail)
    (
        "broken JSON",
        "PUT",
        f"/v1/namespaces/alice/notes/{NOTE}",
        {"content": b'{"text": "half', "headers": JSON},
        422,
        "not valid JSON",
    ),
    (
        "latin-1 bytes declared UTF-8",
        "POST",
        "/v1/namespaces/alice/documents",
        {
            "content": '[{"text": "Mira Holt aß in Veloria."}]'.encode("latin-1"),
            "headers": {"Content-Type": "application/json; charset=utf-8"},
        },
        422,
        "not UTF-8",
    ),
    (
        "latin-1 bytes in a change",
        "PUT",
        f"/v1/namespaces/alice/notes/{NOTE}",
        {"content": '{"text": "café"}'.encode("latin-1"), "headers": JSON},
        422,
        "not UTF-8",
    ),
    ("empty text", "PUT", f"/v1/namespaces/alice/notes/{NOTE}", {"json": {"text": ""}}, 422, "body.text"),
    ("whitespace text", "PUT", f"/v1/namespaces/alice/notes/{NOTE}", {"json": {"text": " \n\t "}}, 422, "empty"),
    ("empty document", "POST", "/v1/namespaces/alice/documents", {"json": [{"text": ""}]}, 422, "body.0.text"),
    (
        "text over the limit",
        "PUT",
        f"/v1/namespaces/alice/notes/{NOTE}",
        {"json": {"text": "word " * 20_001}},
        422,
        "at most 100000 characters",
    ),
    (
        "document over the limit",
        "POST",
        "/v1/namespaces/alice/documents",
        {"json": [{"text": "x" * 1_000_001}]},
        422,
        "at most 1000000 characters",
    ),
    (
        "too many documents",
        "POST",
        "/v1/namespaces/alice/documents",
        {"json": [{"text": "Mira Holt."}] * 1_001},
        422,
        "at most 1000 items",
    ),
    (
        "body over the limit",
        "POST",
        "/v1/namespaces/alice/documents",
        lambda: {"content": b"[" + b" " * MAX_BODY_BYTES + b"]", "headers": JSON},
        413,
        f"at most {MAX_BODY_BYTES}",
    ),
    (
        "body over the limit, streamed",
        "POST",
        "/v1/namespaces/alice/memories",
        lambda: {"content": _chunks(MAX_BODY_BYTES + 1), "headers": JSON},
        413,
        f"at most {MAX_BODY_BYTES}",
    ),
    (
        "metadata nested too deeply",
        "POST",
        "/v1/namespaces/alice/memories",
        {"json": {**A_MEMORY, "metadata": _nested(MAX_METADATA_DEPTH + 1)}},
        422,
        f"at most {MAX_METADATA_DEPTH}",
    ),
    (
        "JSON nested past the reader",
        "POST",
        "/v1/namespaces/alice/memories",
        {"content": b'{"text": "x", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": JSON},
        422,
        "nested too deeply",
    ),
    (
        "a number of 5,000 digits",
        "POST",
        "/v1/namespaces/alice/memories",
        {"content": b'{"text": "x", "metadata": {"n": ' + b"9" * 5_000 + b"}}", "headers": JSON},
        422,
        "not readable",
    ),
    (
        "infinity in a document's metadata",
        "POST",
        "/v1/namespaces/alice/documents",
        {"content": b'[{"text": "Mira Holt.", "metadata": {"n": Infinity}}]', "headers": JSON},
        422,
        "cannot be stored",
    ),
    (
        "a change with an unknown field",
        "PUT",
        f"/v1/namespaces/alice/notes/{NOTE}",
        {"json": {"text": "Mira Holt.", "namespace": "bob"}},
        422,
        "body.namespace",
    ),
    (
        "a document with an unknown field",
        "POST",
        "/v1/namespaces/alice/documents",
        {"json": [{"text": "Mira Holt.", "namespace": "bob"}]},
        422,
        "body.0.namespace",
    ),
    (
        "an unknown field with a line break in its name",
        "POST",
        "/v1/namespaces/alice/documents",
        {"json": [{"text": "Mira Holt.", "a\nb": 1}]},
        422,
        "body.0.'a\\nb': Extra inputs are not permitted",
    ),
    ("unknown note", "GET", "/v1/namespaces/alice/notes/no-such-note", {}, 404, "no-such-note"),
    (
        "unknown note to change",
        "PUT",
        "/v1/namespaces/alice/notes/no-such-note",
        {"json": A_MEMORY},
        404,
        "no-such-note",
    ),
    ("unknown document to delete", "DELETE", "/v1/namespaces/alice/documents/no-such-doc", {}, 404, "no-such-doc"),
    ("unknown namespace to delete", "DELETE", "/v1/namespaces/nobody", {}, 404, "'nobody' holds nothing"),
    ("huge k", "GET", "/v1/namespaces/alice/search", {"params": {"q": QUESTIONS[0], "k": 10**12}}, 422, "query.k"),
    ("negative k", "GET", "/v1/namespaces/alice/search", {"params": {"q": QUESTIONS[0], "k": -3}}, 422, "query.k"),
    ("query over the limit", "GET", "/v1/namespaces/alice/search", {"params": {"q": "x" * 10_001}}, 422, "query.q"),
    (
        "namespace over the limit",
        "GET",
        "/v1/namespaces/" + "n" * 513 + "/search",
        {"params": {"q": "x"}},
        422,
        "path.ns",
    ),
    ("id over the limit", "GET", "/v1/namespaces/alice/notes/" + "i" * 513, {}, 422, "path.note_id"),
    ("whitespace namespace", "POST", "/v1/namespaces/%20%09/memories", {"json": A_MEMORY}, 422, "namespace"),
    ("no key", "GET", "/v1/stats", {"headers": {"Authorization": ""}}, 401, "API key"),
    (
        "a wrong key",
        "DELETE",
        "/v1/namespaces/alice",
        {"headers": {"Authorization": "Bearer wrong-key-5c1e9"}},
        401,
        "API key",
    ),
    (
        "the key and one more character",
        "GET",
        "/v1/stats",
        {"headers": {"Authorization": f"Bearer {KEY}x"}},
        401,
        "API key",
    ),
    (
        "the key less its last character",
        "GET",
        "/v1/stats",
        {"headers": {"Authorization": f"Bearer {KEY[:-1]}"}},
        401,
        "API key",
    ),
    (
        "the key in capitals",
        "GET",
        "/v1/stats",
        {"headers": {"Authorization": f"Bearer {KEY.upper()}"}},
        401,
        "API key",
    ),
    ("the key twice", "GET", "/v1/stats", {"headers": {"Authorization": f"Bearer {KEY} {KEY}"}}, 401, "API key"),
    (
        "a key of latin-1 letters",
        "GET",
        "/v1/stats",
        {"headers": {"Authorization": "Bearer clé-ü".encode("latin-1")}},
        401,
        "API key",
    ),
    (
        "the key as a token of another scheme",
        "GET",
        "/v1/stats",
        {"headers": {"Authorization": f"Token {KEY}"}},
        401,
        "API key",
    ),
    ("no such route", "GET", "/v1/namespaces/alice/secrets", {}, 404, "Not Found"),
    (
        "a method the route does not take",
        "PATCH",
        f"/v1/namespaces/alice/notes/{NOTE}",
        {"json": A_MEMORY},
        405,
        "Method Not Allowed",
    ),
]


@pytest.mark.parametrize("case,method,path,request_keywords,status,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_of_json_and_changes_nothing(
    api, store, embedder, extractor, case, method, path, request_keywords, status, fragment
):
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        note = memory.get(next(iter(ids_of(memory, "alice"))), namespace="alice")
    before = _state(store, embedder, extractor)
    keywords = request_keywords() if callable(request_keywords) else request_keywords
    reply = api.request(method, path.replace(NOTE, note.id), **keywords)
    assert reply.status_code == status, reply.text[:500]
    assert fragment in _one_line_detail(reply)
    assert _state(store, embedder, extractor) == before


def test_a_time_that_leaves_the_calendar_in_utc_is_422(api, store, embedder, extractor):
    before = _state(store, embedder, extractor)
    added = api.post("/v1/namespaces/alice/memories", json={**A_MEMORY, "timestamp": "0001-01-01T00:00:00+01:00"})
    searched = api.get("/v1/namespaces/alice/search", params={"q": QUESTIONS[0], "as_of": "9999-12-31T23:00:00-05:00"})
    assert _state(store, embedder, extractor) == before
    assert (added.status_code, searched.status_code) == (422, 422), (added.text, searched.text)


# -- hostile ids and namespaces ------------------------------------------------------------------


def test_hostile_ids_are_only_data_through_the_api(api, store, embedder, extractor):
    """Ids with quotes, a DROP TABLE, a DETACH DELETE, NUL, right-to-left marks, a path that climbs
    out (../../etc/passwd): stored, found and deleted as given, in their namespace only."""
    before = _state(store, embedder, extractor)
    # (TestClient decodes a path twice, so "%2e%2e%2f" is tests/test_rest.py's, against a server process)
    for value in [*HOSTILE, "../../etc/passwd", "*", "%"]:
        path = quote(value, safe="")
        added = api.post("/v1/namespaces/alice/memories", json={"text": f"Mira Holt wrote {value!r}.", "id": value})
        assert added.status_code == 201, (value, added.text)
        note = added.json()
        assert (note["document_id"], note["namespace"]) == (value, "alice")
        assert api.get(f"/v1/namespaces/alice/documents/{path}").json()["id"] == value
        assert api.get(f"/v1/namespaces/alice/notes/{note['id']}").json()["text"] == note["text"]
        for method in ("GET", "DELETE"):  # bob has no document of that id, and alice's note is not bob's
            assert api.request(method, f"/v1/namespaces/bob/documents/{path}").status_code == 404, value
            assert api.request(method, f"/v1/namespaces/bob/notes/{note['id']}").status_code == 404, value
        unknown = api.get(f"/v1/namespaces/alice/notes/{path}")  # as a note id it names nothing
        assert unknown.status_code == 404, (value, unknown.text)
        _one_line_detail(unknown)
        assert api.delete(f"/v1/namespaces/alice/documents/{path}").json() == {"deleted": value, "namespace": "alice"}
    assert _state(store, embedder, extractor) == before


def test_hostile_namespace_names_are_only_names(api, store, embedder, extractor):
    before = _state(store, embedder, extractor)
    for value in [value for value in HOSTILE if "/" not in value]:  # a path's segment: no namespace with a slash
        namespace = quote(value, safe="")
        added = api.post(f"/v1/namespaces/{namespace}/memories", json={"text": f"Mira Holt lives in {value!r}."})
        assert added.status_code == 201 and added.json()["namespace"] == value, (value, added.text)
        assert api.get("/v1/stats", params={"namespace": value}).json()["documents"] == 1
        hits = api.get(f"/v1/namespaces/{namespace}/search", params={"q": QUESTIONS[2], "k": 20}).json()["hits"]
        assert [hit["id"] for hit in hits] == [added.json()["id"]]
        assert api.delete(f"/v1/namespaces/{namespace}").json() == {"namespace": value, "deleted_documents": 1}
    assert _state(store, embedder, extractor) == before


# -- tenancy -----------------------------------------------------------------------------------

ALICE_ONLY = ("blue stone", "Kessel", "Paris")  # words of alice's notes that bob's have not


def test_no_route_of_one_namespace_reaches_another(api, store, embedder, extractor):
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        alice, bob = ids_of(memory, "alice"), ids_of(memory, "bob")
        alice_records = [r for r in comparable(records(memory)) if r.get("namespace") == "alice"]
    assert alice and bob and not alice & bob
    windows = ({}, {"since": "2019-01-01"}, {"until": "2030-01-01"}, {"as_of": "2030-01-01"})
    for name in ("bob", "alice ", "Alice", "alice\x00", "\u202ealice", "alice%00", "*"):
        ns = quote(name, safe="")
        for question in QUESTIONS:
            for window in windows if name == "bob" else windows[:1]:
                for method in ("hippograph", "dense"):
                    reply = api.get(
                        f"/v1/namespaces/{ns}/search", params={"q": question, "k": 100, "method": method, **window}
                    )
                    assert reply.status_code == 200, reply.text
                    assert not {hit["id"] for hit in reply.json()["hits"]} & alice
                    assert not any(word in reply.text for word in ALICE_ONLY), (name, question)
        for note_id in alice:
            for method, body in (("GET", None), ("PUT", {"text": "Bob was here."}), ("DELETE", None)):
                reply = api.request(method, f"/v1/namespaces/{ns}/notes/{note_id}", json=body)
                assert reply.status_code == 404, (name, method, reply.text)
                assert not any(word in reply.text for word in ALICE_ONLY)
        counted = api.get("/v1/stats", params={"namespace": name}).json()
        assert counted["passages"] == (len(bob) if name == "bob" else 0)
    # the same document ids in both: bob's routes give, and delete, bob's
    shared = api.get("/v1/namespaces/bob/documents/shared").json()
    assert set(shared["passage_ids"]) <= bob
    assert api.delete("/v1/namespaces/bob/documents/shared").status_code == 200
    assert api.delete("/v1/namespaces/bob/documents/doc").status_code == 200
    gone = api.delete("/v1/namespaces/bob-typo")
    assert gone.status_code == 404 and "alice" not in gone.json()["detail"]  # no other namespace named
    assert api.delete("/v1/namespaces/bob").status_code == 200
    assert api.get("/v1/stats", params={"namespace": "bob"}).json()["documents"] == 0
    with Memory(store, read_only=True, embedder=embedder, extractor=extractor) as memory:
        assert [r for r in comparable(records(memory)) if r.get("namespace") == "alice"] == alice_records
        assert ids_of(memory, "alice") == alice and memory.namespaces() == ["alice"]


# -- fuzzed from the OpenAPI spec ----------------------------------------------------------------

# schemathesis parametrizes the test at collection, before any fixture, from the spec; the spec
# depends on the routes only, so the app that gives it has no pool. The requests go to the app of
# the `fuzzed` fixture, over a store of its own.
SCHEMA = schemathesis.openapi.from_dict(create_app(pool=None).openapi())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fuzz_store(sample_store, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rest-fuzz") / "store"
    shutil.copytree(sample_store, folder)
    return folder


@pytest.fixture
def fuzzed(fuzz_store, embedder, extractor):
    """The app over the fuzz store. One per operation: schemathesis shuts an app down (which
    closes its pool) when the test of an operation ends."""
    pool = MemoryPool(lambda: Memory(fuzz_store, embedder=embedder, extractor=extractor))
    yield create_app(pool, api_key=KEY)
    pool.close()  # closing twice is harmless


@SCHEMA.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_get_a_server_error(case, fuzzed):
    reply = case.call(app=fuzzed, headers=AUTH)
    assert reply.status_code < 500, (reply.status_code, reply.text[:500], case.as_curl_command())
    assert "Traceback (most recent call last)" not in reply.text
    if reply.status_code >= 400:
        body = json.loads(reply.text)
        assert isinstance(body, dict) and isinstance(body.get("detail"), str), reply.text[:500]
        assert "\n" not in body["detail"] and 'File "' not in body["detail"]
