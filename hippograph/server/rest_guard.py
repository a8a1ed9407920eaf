"""The REST server's outer guard: the key, the body's size, and no traceback in any reply.

A pure ASGI middleware rather than FastAPI's ``@app.middleware("http")``, because it must see the
body as it streams: a request without Content-Length (chunked transfer encoding) says nothing of
its size up front, and would otherwise be read whole into memory, however big, before any check.
It also answers for any exception that no handler took, which an ``http`` middleware only sees
after Starlette has chosen the reply.

- 401 without ``Authorization: Bearer KEY`` when the server has a key, before a byte of the body
  is read (every path but OPEN_PATHS, which hold no data);
- 413 for a body over MAX_BODY_BYTES: at once when Content-Length says so, else as soon as the
  bytes received pass it. Every route reads its whole body before it works, so nothing was
  written; whatever the route made of the cut-off body is dropped, and the 413 sent instead;
- 500 ``{"detail": "internal error; see the server log"}`` for an exception no handler took: the
  traceback goes to the server's log, never into the reply (it would show code, paths and data).

One line per request is logged at INFO (shown with ``hippograph -v serve``).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .rest_models import MAX_BODY_BYTES

__all__ = ["INTERNAL_ERROR", "OPEN_PATHS", "Guard"]

log = logging.getLogger("hippograph.server.rest")  # the REST server's one log
OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
INTERNAL_ERROR = "internal error; see the server log"
UNAUTHORIZED = "this server needs its API key: send 'Authorization: Bearer KEY'"


class Guard:
    """Wraps the REST app: refuses a request without the key or with too big a body, and turns
    an unexpected exception into a plain 500 (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.api_key = api_key or None  # an empty key (an empty $HIPPOGRAPH_API_KEY) is no key
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the pool's opening and closing
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        exchange = _Exchange(receive, send, self.max_body_bytes)
        refusal = self._refusal(Headers(scope=scope), scope["path"])
        try:
            if refusal is not None:
                await exchange.reply(scope, *refusal)
            else:
                await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if not exchange.over_limit:
                if exchange.status is not None:  # the reply has begun: too late to say more; the server cuts it
                    raise
                log.exception("%s %s failed", scope["method"], scope["path"])
                await exchange.reply(scope, 500, INTERNAL_ERROR)
        if exchange.over_limit and exchange.status is None:
            await exchange.reply(
                scope,
                413,
                f"the body has more than {self.max_body_bytes} bytes; at most {self.max_body_bytes} are taken",
            )
        log.info(
            "%s %s -> %s in %.0f ms",
            scope["method"],
            scope["path"],
            exchange.status,
            1000 * (time.perf_counter() - started),
        )

    def _refusal(self, headers: Headers, path: str) -> tuple[int, str, dict[str, str] | None] | None:
        if self.api_key and path not in OPEN_PATHS and not _authorized(headers.get("authorization", ""), self.api_key):
            return 401, UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="hippograph"'}
        size = headers.get("content-length", "")
        if size.isdigit() and int(size) > self.max_body_bytes:
            return 413, f"the body has {size} bytes; at most {self.max_body_bytes} are taken", None
        return None


def _authorized(header: str, key: str) -> bool:
    scheme, _, token = header.partition(" ")
    # compare_digest takes as long for any wrong key of a length, so timing tells nothing of the right one
    return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), key.encode())


class _Exchange:
    """One request's `receive` and `send`: counts the body's bytes as they arrive, and notes the
    reply's status once it has started."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.received = 0
        self.over_limit = False
        self.status: int | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.over_limit = True
                raise _BodyTooLarge()  # FastAPI turns it into a 400, which `send` drops: the guard sends 413
        return message

    async def send(self, message: Message) -> None:
        if self.over_limit and self.status is None:  # the app's answer to a body cut short
            return
        await self._forward(message)

    async def reply(self, scope: Scope, status: int, detail: str, headers: dict[str, Any] | None = None) -> None:
        await JSONResponse({"detail": detail}, status, headers=headers)(scope, self._receive, self._forward)

    async def _forward(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class _BodyTooLarge(Exception):
    """Raised by the counting `receive` in the route that reads the body, and caught by the guard."""
