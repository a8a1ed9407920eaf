"""Calling an OpenAI-compatible chat endpoint for JSON, whatever the server supports.

Servers differ in structured output: OpenAI and vLLM take a JSON schema
(``response_format: json_schema``), llama.cpp's server rejects that but takes a schema inside
``json_object``, others only know ``json_object`` or nothing. The client starts with the
strictest form and steps down when the server rejects one (an error naming the format, before
any call in that form succeeded), remembering what works in the call cache. Whatever comes back is read by the
tolerant parser and checked by the caller's validator; bad output is retried with a
reminder to answer in JSON.

Calls in flight are bounded by `max_concurrency`, halved after each timeout (see slots.py).

Errors: an endpoint that cannot be used (unreachable, wrong key, unknown model, rate limit
that does not lift) raises LLMError and stops the work; one call that keeps failing (server
errors, timeouts, unreadable output) raises LLMCallFailed, which callers record and go past.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import LLMCallFailed, LLMError, LLMOutputError
from .cache import CallCache
from .parse import parse_json
from .settings import LLMSettings
from .slots import CallSlots

log = logging.getLogger(__name__)
FORMATS = ("json_schema", "json_object_with_schema", "json_object", "prompt_only")
_REMINDER = "That reply could not be read. Answer again with only the JSON object, nothing else."


@dataclass
class Usage:
    """What the model calls of one client cost so far."""

    calls: int = 0  # requests sent (retries included)
    cached: int = 0  # results served from the cache instead
    failed: int = 0  # results given up on after retries
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def since(self, earlier: Usage) -> Usage:
        """What was used after `earlier` (a copy of this usage taken before)."""
        return self._combined(earlier, -1)

    def __add__(self, other: Usage) -> Usage:
        return self._combined(other, 1)

    def _combined(self, other: Usage, sign: int) -> Usage:
        return Usage(*(getattr(self, f.name) + sign * getattr(other, f.name) for f in dataclasses.fields(self)))

    def __str__(self) -> str:
        return (
            f"{self.calls} LLM calls, {self.cached} cached, {self.failed} failed; "
            f"tokens {self.prompt_tokens} prompt + {self.completion_tokens} completion"
        )


class LLMClient:
    """JSON results from chat completions, with retries, format fallback, a cache and usage counts.

    The cache is the file `settings.cache_file()` names (none when `settings.use_cache` is off).
    """

    def __init__(self, settings: LLMSettings) -> None:
        import openai

        self.settings = settings.require()
        cache_file = settings.cache_file()
        self.cache = CallCache(cache_file) if cache_file else None
        self.usage = Usage()
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "unused",  # local servers ignore it
            timeout=settings.timeout,
            max_retries=0,  # retries are ours: counted, and format-aware
        )
        self._lock = threading.Lock()
        self.slots = CallSlots(settings.max_concurrency)
        remembered = self.cache.response_format(self._cache_identity) if self.cache is not None else None
        self._format = FORMATS.index(remembered) if remembered in FORMATS else 0  # index into FORMATS
        self._format_confirmed = False

    @property
    def _cache_identity(self) -> str:
        """What besides the prompt decides a reply: the endpoint, the model and its temperature."""
        return f"{self.settings.base_url or 'openai'}|{self.settings.model}|{self.settings.temperature:g}"

    @property
    def response_format(self) -> str:
        """The structured-output form in use (it steps down when a server rejects one)."""
        return FORMATS[self._format]

    def json(
        self,
        messages: list[dict],
        schema: dict,
        *,
        name: str,
        prompt_version: str,
        validate: Callable[[Any], Any],
        max_tokens: int = 1024,
    ) -> Any:
        """The validated JSON reply to `messages`, from the cache when this model answered the
        same messages under the same prompt version before.

        `validate` turns parsed JSON into the result or raises LLMOutputError. `max_tokens`
        bounds each reply, so a model that rambles costs a bounded time (and a retry).
        """
        key = None
        if self.cache is not None:
            key = CallCache.key(self._cache_identity, prompt_version, repr(messages))
            cached = self.cache.get(key)
            if cached is not None:
                self._count(cached=1)
                return cached
        result = self._call_until_valid(list(messages), schema, name, validate, max_tokens)
        if key is not None:
            self.cache.put(key, self.settings.model, prompt_version, result)
        return result

    def _call_until_valid(
        self, messages: list[dict], schema: dict, name: str, validate: Callable[[Any], Any], max_tokens: int
    ) -> Any:
        attempt = 0
        while True:
            text, cut_off = self._complete(messages, schema, name, max_tokens)
            try:
                return validate(parse_json(text))
            except LLMOutputError as err:
                if cut_off:  # asking again would run into the same limit
                    self._count(failed=1)
                    raise LLMOutputError(f"the reply was cut off at {max_tokens} tokens: {err}") from err
                if attempt >= self.settings.max_retries:
                    self._count(failed=1)
                    raise
                log.info("unreadable model output (%s); asking again", err)
                messages = messages + [
                    {"role": "assistant", "content": text or ""},
                    {"role": "user", "content": _REMINDER},
                ]
                attempt += 1

    def _complete(self, messages: list[dict], schema: dict, name: str, max_tokens: int) -> tuple[str, bool]:
        """One completion's text and whether it stopped at `max_tokens`, retrying transient
        failures and stepping down formats."""
        openai, attempt = self._openai, 0
        while True:
            form = self._format
            try:
                self._count(calls=1)
                with self.slots.slot() as started_under:
                    response = self._client.chat.completions.create(
                        model=self.settings.model,
                        messages=messages,
                        temperature=self.settings.temperature,
                        max_tokens=max_tokens,
                        **_format_arguments(FORMATS[form], schema, name),
                    )
            except (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError) as err:
                if _rejects_format(err) and self._step_down(form, err):
                    continue
                if isinstance(err, openai.InternalServerError) and attempt < self.settings.max_retries:
                    attempt = self._wait(attempt, err)
                    continue
                self._count(failed=1)
                raise LLMCallFailed(f"the LLM server answered {_status(err)}: {_message(err)}") from err
            except openai.RateLimitError as err:
                if attempt < self.settings.max_retries:
                    attempt = self._wait(attempt, err)
                    continue
                raise LLMError(
                    f"the LLM endpoint keeps rate-limiting ({_message(err)}) after "
                    f"{attempt + 1} tries; lower the concurrency or try later"
                ) from err
            except openai.APITimeoutError as err:
                self.slots.halve(started_under)
                if attempt < self.settings.max_retries:
                    attempt = self._wait(attempt, err)
                    continue
                self._count(failed=1)
                raise LLMCallFailed(
                    f"no answer from the LLM within {self.settings.timeout:g} s, {attempt + 1} tries"
                ) from err
            except openai.APIConnectionError as err:
                if attempt < self.settings.max_retries:
                    attempt = self._wait(attempt, err)
                    continue
                raise LLMError(f"cannot reach the LLM endpoint {self.settings.base_url or 'OpenAI'}: {err}") from err
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise LLMError(
                    f"the LLM endpoint refused the request ({_status(err)}): {_message(err)}; "
                    f"check the API key and the model name {self.settings.model!r}"
                ) from err
            except openai.APIError as err:
                raise LLMError(f"the LLM endpoint failed: {err}") from err
            self._confirm(form)
            usage = getattr(response, "usage", None)
            self._count(
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            )
            choices = getattr(response, "choices", None) or []
            if not choices:
                return "", False
            return choices[0].message.content or "", choices[0].finish_reason == "length"

    def _step_down(self, form: int, err: Exception) -> bool:
        """Move to the next format if `form` never worked here and the server rejected it."""
        with self._lock:
            if self._format_confirmed or form != self._format or form == len(FORMATS) - 1:
                return self._format != form  # another thread already moved on: try again
            self._format += 1
        log.info(
            "the LLM server rejected response format %s (%s); using %s", FORMATS[form], _status(err), FORMATS[form + 1]
        )
        return True

    def _confirm(self, form: int) -> None:
        with self._lock:
            if form != self._format or self._format_confirmed:
                return
            self._format_confirmed = True
        if self.cache is not None:
            self.cache.remember_format(self._cache_identity, FORMATS[form])

    def _wait(self, attempt: int, err: Exception) -> int:
        delay = self.settings.backoff * 2**attempt
        retry_after = _retry_after(err)
        if retry_after is not None:
            delay = retry_after
        delay = min(delay, self.settings.max_backoff)
        log.info("LLM call failed (%s); retry %d in %.1f s", _status(err) or type(err).__name__, attempt + 1, delay)
        time.sleep(delay)
        return attempt + 1

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for field, amount in amounts.items():
                setattr(self.usage, field, getattr(self.usage, field) + amount)

    def close(self) -> None:
        self._client.close()
        if self.cache is not None:
            self.cache.close()


def chat(system: str, user: str) -> list[dict]:
    """The messages of a one-turn request: instructions, then the task."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _format_arguments(form: str, schema: dict, name: str) -> dict:
    if form == "json_schema":
        return {
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        }
    if form == "json_object_with_schema":  # llama.cpp's server: grammar-constrained by the schema
        return {"response_format": {"type": "json_object", "schema": schema}}
    if form == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def _rejects_format(err: Exception) -> bool:
    """Whether an error says "this server does not take that response_format": its message
    names the format (llama.cpp's server answers json_schema with a 500 about 'response_format',
    OpenAI with a 400). Other errors, such as a prompt over the context length or a 503 while a
    model loads, are not a reason to give up structured output."""
    message = f"{getattr(err, 'message', '')} {getattr(err, 'body', '')}".lower()
    return any(word in message for word in ("response_format", "json_schema", "json_object", "schema"))


def _status(err: Exception) -> str:
    code = getattr(err, "status_code", None)
    return f"HTTP {code}" if code else ""


def _message(err: Exception) -> str:
    text = " ".join(str(getattr(err, "message", None) or err).split())
    return text[:200]


def _retry_after(err: Exception) -> float | None:
    response = getattr(err, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
