"""`hippograph serve`: a REST server (FastAPI, run by uvicorn) over one store.

A thin layer: each route checks its request (see rest_models.py), calls `Memory` through a
`MemoryPool` (writes take turns on one memory, reads run at once on others) and shapes the reply.
The namespace in the path scopes every read and write. Errors are JSON ``{"detail": "one line"}``:

- 401 without ``Authorization: Bearer KEY`` when the server has a key (every route but
  /healthz and the OpenAPI docs, which hold no data);
- 403 for a write to a store served read-only (ReadOnlyStore: `serve --read-only`, or a folder
  the server cannot write);
- 404 for an id the namespace does not hold (DocumentNotFound);
- 413 for a body over MAX_BODY_BYTES, whether Content-Length says so or it streams (chunked);
- 422 for a body or parameter that does not fit (a body that is not UTF-8 or nests too deeply
  included), and for input Memory refuses (SourceError, QueryError, ConfigError);
- 503 with Retry-After while another process holds the store (StoreBusy): nothing was written;
- 409 for a change the store refuses as it stands (any other StoreError, e.g. updating one
  passage of a longer document), 400 for any other HippographError;
- 500 ``{"detail": "internal error; see the server log"}`` for anything else (a bug): its
  traceback goes to the server's log, never into a reply.

The key, the body's size and the 500 are rest_guard.py's work. A web page of another origin gets
no reply it may read (no CORS headers) unless `serve --cors-origin` names that origin.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

from ..errors import (
    ConfigError,
    DocumentNotFound,
    HippographError,
    QueryError,
    ReadOnlyStore,
    SourceError,
    StoreBusy,
    StoreError,
    missing_extra,
)

try:
    import uvicorn
    from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPBearer
    from starlette.convertors import PathConvertor, register_url_convertor
    from starlette.exceptions import HTTPException
except ImportError as err:
    raise missing_extra("server", err) from err

from .. import __version__
from ..memory import METHODS
from ..types import Document, Hit
from .pool import MemoryPool
from .rest_guard import Guard
from .rest_models import (
    MAX_DOCUMENTS,
    MAX_ID_CHARACTERS,
    MAX_QUERY_CHARACTERS,
    MAX_TIME_CHARACTERS,
    NewDocument,
    NewMemory,
    NoteChange,
)

__all__ = ["create_app", "main"]

METHODS_USED = ["GET", "POST", "PUT", "DELETE"]  # what a web page of a --cors-origin may send
RETRY_AFTER_S = "1"  # a busy store is another process's write, which usually ends within seconds
STATUS = (
    (DocumentNotFound, 404),
    (ReadOnlyStore, 403),
    (StoreBusy, 503),
    ((SourceError, QueryError, ConfigError), 422),
    (StoreError, 409),
)


class _AnyId(PathConvertor):
    """A document id in a path: any text, a slash included (as Starlette's "path"), and a line
    break too, where "path"'s regex (.*) stops, so that an id stored with one can be read and deleted."""

    regex = r"[\s\S]*"


register_url_convertor("any_id", _AnyId())

# The key is checked by the Guard (rest_guard.py), before the body is read; this only shows it in /docs (the
# "Authorize" button), which is why it never refuses a request itself.
_bearer = HTTPBearer(auto_error=False, description="the key given to `hippograph serve --api-key`")
router = APIRouter(prefix="/v1", dependencies=[Depends(_bearer)])


def _pool(request: Request) -> MemoryPool:
    return request.app.state.pool


Pool = Annotated[MemoryPool, Depends(_pool)]
Namespace = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_CHARACTERS,
        description="the memory within the store; no request reaches another's data",
    ),
]
NoteId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARACTERS, description="a note's id")]
DocumentId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_CHARACTERS, description="a document's id (the `id` given when it was added)"),
]
Time = Annotated[
    str | None,
    Query(max_length=MAX_TIME_CHARACTERS, description="ISO 8601, e.g. 2024-05-01 or 2024-05-01T13:56:00+02:00"),
]


# -- writing -------------------------------------------------------------------


@router.post("/namespaces/{ns}/memories", status_code=201, tags=["memories"], summary="Store one memory as a note")
def add_memory(ns: Namespace, body: NewMemory, pool: Pool) -> dict[str, Any]:
    """Store a chat turn, an observation or a fact as a note (extracted, embedded and linked at
    once) and return it. The same `id` with the same content returns the stored note."""
    with pool.writing() as memory:
        note = memory.add(body.text, namespace=ns, timestamp=body.timestamp, metadata=body.metadata, id=body.id)
    return note.to_dict()


@router.post("/namespaces/{ns}/documents", tags=["documents"], summary="Ingest documents")
def ingest(
    ns: Namespace,
    pool: Pool,
    documents: Annotated[
        list[NewDocument], Body(min_length=1, max_length=MAX_DOCUMENTS, description="the documents, as a JSON array")
    ],
) -> dict[str, Any]:
    """Ingest documents, each split into passages; an unchanged document is left as it is, a
    changed one with the same id replaced. Returns the counts of what was done."""
    records = [Document(d.text, id=d.id, title=d.title, metadata=d.metadata or {}) for d in documents]
    with pool.writing() as memory:
        report = memory.ingest(records, namespace=ns, progress=False)
    return dataclasses.asdict(report)


@router.put("/namespaces/{ns}/notes/{note_id}", tags=["notes"], summary="Change a note")
def update_note(ns: Namespace, note_id: NoteId, body: NoteChange, pool: Pool) -> dict[str, Any]:
    """Give a note a new text and/or metadata (the old ones stay in its history); returns it."""
    with pool.writing() as memory:
        note = memory.update(note_id, body.text, metadata=body.metadata, namespace=ns)
    return note.to_dict()


@router.delete("/namespaces/{ns}/notes/{note_id}", tags=["notes"], summary="Delete a note")
def delete_note(ns: Namespace, note_id: NoteId, pool: Pool) -> dict[str, Any]:
    """Delete a note, its links and the entities and facts only it supported."""
    with pool.writing() as memory:
        memory.delete_note(note_id, namespace=ns)
    return {"deleted": note_id, "namespace": ns}


@router.delete("/namespaces/{ns}/documents/{document_id:any_id}", tags=["documents"], summary="Delete a document")
def delete_document(ns: Namespace, document_id: DocumentId, pool: Pool) -> dict[str, Any]:
    """Delete a document (or a memory, by the id it was added with) and all only it supported."""
    with pool.writing() as memory:
        memory.delete(document_id, namespace=ns)
    return {"deleted": document_id, "namespace": ns}


@router.delete("/namespaces/{ns}", tags=["namespaces"], summary="Delete a namespace")
def delete_namespace(ns: Namespace, pool: Pool) -> dict[str, Any]:
    """Delete everything the namespace holds; returns how many documents (notes included) it had
    (404 when it holds nothing)."""
    with pool.writing() as memory:
        try:
            count = memory.delete_namespace(ns)
        except DocumentNotFound:  # Memory's message names the store's namespaces: not for a client of one
            raise DocumentNotFound(f"namespace {ns!r} holds nothing") from None
    return {"namespace": ns, "deleted_documents": count}


# -- reading -------------------------------------------------------------------


@router.get("/namespaces/{ns}/search", tags=["search"], summary="Retrieve the passages that answer a question")
def search(
    ns: Namespace,
    pool: Pool,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARACTERS, description="the question")],
    k: Annotated[int, Query(ge=1, le=100, description="how many passages")] = 5,
    method: Annotated[
        Literal[METHODS],
        Query(description="graph + PageRank; dense similarity; BM25 over the words; or dense and BM25 fused"),
    ] = "hippograph",
    since: Time = None,
    until: Time = None,
    as_of: Annotated[
        str | None, Query(max_length=MAX_TIME_CHARACTERS, description="search the memory as it was then (ISO 8601)")
    ] = None,
) -> dict[str, Any]:
    """The `k` best passages, with why each came: the shape of `hippograph query --json`, each hit
    with its `explanation` too. `since` / `until` keep only notes whose time is in that window."""
    with pool.reading() as memory:
        hits = memory.query(q, k, method=method, namespace=ns, since=since, until=until, as_of=as_of)
    return {"query": q, "method": method, "hits": [_hit(hit) for hit in hits]}


@router.get("/namespaces/{ns}/notes/{note_id}", tags=["notes"], summary="Get a note")
def get_note(ns: Namespace, note_id: NoteId, pool: Pool) -> dict[str, Any]:
    """A note (any stored passage) with its attributes, times and links."""
    with pool.reading() as memory:
        return memory.get(note_id, namespace=ns).to_dict()


@router.get("/namespaces/{ns}/documents/{document_id:any_id}", tags=["documents"], summary="Get a document")
def get_document(ns: Namespace, document_id: DocumentId, pool: Pool) -> dict[str, Any]:
    """A stored document with the ids of its passages (each one a note)."""
    with pool.reading() as memory:
        return dataclasses.asdict(memory.document(document_id, namespace=ns))


@router.get("/stats", tags=["stats"], summary="Count what the store holds")
def stats(
    pool: Pool,
    namespace: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_CHARACTERS, description="count one namespace only")
    ] = None,
) -> dict[str, Any]:
    """Counts of the whole store, or of one namespace: the shape of `hippograph stats --json`."""
    with pool.reading() as memory:
        return dataclasses.asdict(memory.stats(namespace))


def healthz() -> dict[str, str]:
    """Answers once the server is up and its models are loaded; needs no key."""
    return {"status": "ok"}


def _hit(hit: Hit) -> dict[str, Any]:
    return {**hit.to_dict(), "explanation": hit.explanation.to_dict()}


# -- the app -------------------------------------------------------------------


def create_app(pool: MemoryPool, api_key: str | None = None, *, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The REST app over `pool`; it closes the pool when it shuts down. With `api_key`, every
    route but /healthz and the docs needs ``Authorization: Bearer <api_key>``. `cors_origins`
    (e.g. ``["https://app.example.org"]``) lets web pages of those origins call it; without it a
    browser keeps the replies from every other origin's page."""
    app = FastAPI(
        title="hippograph",
        version=__version__,
        lifespan=_lifespan,
        description="A graph-based knowledge memory: store memories and documents, retrieve by "
        "multi-hop graph search. Every path under /v1/namespaces/{ns} stays in namespace ns.",
    )
    app.state.pool = pool
    app.add_middleware(Guard, api_key=api_key)
    if cors_origins:  # outside the guard: a browser's preflight (OPTIONS) carries no key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=METHODS_USED,
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
        )
    app.add_exception_handler(HippographError, _error_reply)
    app.add_exception_handler(RequestValidationError, _invalid_reply)
    app.add_exception_handler(HTTPException, _unreadable_reply)
    app.include_router(router)
    app.get("/healthz", tags=["health"], summary="Is the server up")(healthz)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # uvicorn runs this after the last request on Ctrl-C or SIGTERM, then re-raises the signal,
    # which ends the process before a `finally` in `main` could close the store
    try:
        yield
    finally:
        app.state.pool.close()


async def _error_reply(request: Request, err: Exception) -> JSONResponse:
    status = next((code for kinds, code in STATUS if isinstance(err, kinds)), 400)
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return JSONResponse({"detail": " ".join(str(err).split())}, status, headers=headers)


async def _invalid_reply(request: Request, err: Exception) -> JSONResponse:
    """422 with one readable line; the offending input is not echoed (it may be megabytes)."""
    assert isinstance(err, RequestValidationError)
    return JSONResponse({"detail": "; ".join(_problem(error) for error in err.errors())}, 422)


async def _unreadable_reply(request: Request, err: Exception) -> JSONResponse:
    """FastAPI answers a body it cannot even parse (not UTF-8, nested deeper than Python's JSON
    reader goes, a number of thousands of digits) with 400 "There was an error parsing the body";
    this says which, as the 422 of any other body that does not fit. Other HTTP errors (an unknown
    path, a method a path does not take) keep FastAPI's reply."""
    assert isinstance(err, HTTPException)
    cause = err.__cause__
    if err.status_code != 400 or cause is None:
        return await http_exception_handler(request, err)
    if isinstance(cause, UnicodeDecodeError):
        return JSONResponse({"detail": f"body: not UTF-8 ({cause.reason} at byte {cause.start})"}, 422)
    if isinstance(cause, RecursionError):
        return JSONResponse({"detail": "body: nested too deeply to read"}, 422)
    return JSONResponse({"detail": "body: not readable as JSON"}, 422)


def _problem(error: dict[str, Any]) -> str:
    # a loc part is a field name as the client wrote it: an unknown one may hold a line break
    where = [str(part) if str(part).isprintable() else repr(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":  # its loc is ("body", offset)
        return f"body: not valid JSON ({error.get('ctx', {}).get('error')} at character {where[-1]})"
    return f"{'.'.join(where)}: {error.get('msg', 'invalid')}"


# -- the command ---------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    """`hippograph serve`: refuse an exposed host without a key, load the models, serve until
    interrupted, then close the store."""
    api_key = args.api_key or None
    check_exposure(args.host, api_key)
    pool = MemoryPool.open(args.store, read_only=args.read_only)
    try:
        uvicorn.run(create_app(pool, api_key, cors_origins=args.cors_origins or ()), host=args.host, port=args.port)
    finally:
        pool.close()  # the app did when uvicorn stopped it (closing twice is harmless); not if it never started
    return 0


def check_exposure(host: str, api_key: str | None) -> None:
    """ConfigError when `host` is reachable from other machines and there is no key to guard it."""
    if api_key is None and not _is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without an API key: anyone who reaches it could read and "
            "change the memory; give --api-key KEY (or set $HIPPOGRAPH_API_KEY), or serve on 127.0.0.1"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to any address
        return False
