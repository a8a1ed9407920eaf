"""A scripted OpenAI-compatible server for fault tests: real HTTP on 127.0.0.1, replies chosen
by the test. It stands in for a misbehaving model server (429s, 500s, stalls, garbage), which a
real server cannot be made to produce on demand; the plumbing tests against a real model server
are in test_llm_server.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str | None = None  # the assistant message, or with another status the error message
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (longer than the client's timeout: a stall)
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"  # "length": the reply hit max_tokens


def completion(content: str, finish_reason: str = "stop") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class ScriptedLLM:
    """Answers POST .../chat/completions with `respond(request_body, call_number)`; records requests."""

    def __init__(self, respond: Callable[[dict, int], Reply]) -> None:
        self.respond = respond
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    number = len(server.requests)
                reply = server.respond(body, number)
                time.sleep(reply.delay)
                payload = (
                    json.dumps(completion(reply.content, reply.finish_reason))
                    if reply.status == 200
                    else json.dumps({"error": {"message": reply.content or f"scripted {reply.status}", "type": "test"}})
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# A model that extracts these passages correctly: passage text -> (entities, triples).
KNOWN = {
    "Mira Holt founded Brightwater Labs.": (
        ["Mira Holt", "Brightwater Labs"],
        [["Mira Holt", "founded", "Brightwater Labs"]],
    ),
    "Mira Holt was born in Kessel.": (["Mira Holt", "Kessel"], [["Mira Holt", "was born in", "Kessel"]]),
    "Kessel lies on the river Aun.": (["Kessel", "Aun"], [["Kessel", "lies on", "Aun"]]),
}


def user_text(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def is_entity_step(body: dict) -> bool:
    return user_text(body).startswith("List the named entities")


def good_openie(body: dict, number: int = 0) -> Reply:
    """What a capable model answers to our two OpenIE prompts for the KNOWN passages."""
    prompt = user_text(body)
    passage = next(text for text in KNOWN if text in prompt)
    entities, triples = KNOWN[passage]
    if is_entity_step(body):
        return Reply(json.dumps({"entities": entities}))
    return Reply(json.dumps({"triples": [dict(zip(("subject", "relation", "object"), t)) for t in triples]}))
