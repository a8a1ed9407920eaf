"""Reading JSON out of model output that is not quite JSON, without ever evaluating it.

Models wrap JSON in code fences, add a sentence before or after it, or write Python-style
literals (single quotes, True/None, trailing commas). `parse_json` takes the first JSON
object or array in the text and, if strict parsing fails, rewrites those Python-isms token by
token. Anything else (prose, a truncated object) raises LLMOutputError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import LLMOutputError

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_WORD = re.compile(r"\w+")
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "/": "/"}


def parse_json(text: str | None) -> Any:
    """The first JSON object or array in `text`."""
    if not text or not text.strip():
        raise LLMOutputError("the model returned no text")
    fenced = _FENCE.search(text)
    candidate = _first_value(fenced.group(1) if fenced else text)
    if candidate is None:
        raise LLMOutputError(f"no JSON object in the model output: {_snippet(text)}")
    for attempt in (candidate, _json_from_python_style(candidate)):
        try:
            return _whole_characters(json.loads(attempt))
        except (ValueError, RecursionError):  # ValueError: bad JSON, or a number too long to read
            continue
    raise LLMOutputError(f"the model output is not valid JSON: {_snippet(candidate)}")


def _whole_characters(value: Any) -> Any:
    """`value` with "\\ud83d\\ude00"-style surrogate halves joined and lone ones replaced, so that
    every string can be written as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_whole_characters(item) for item in value]
    if isinstance(value, dict):
        return {_whole_characters(key): _whole_characters(item) for key, item in value.items()}
    return value


def _first_value(text: str) -> str | None:
    """The first balanced {...} or [...] in `text` (brackets inside strings ignored), or None
    when it never closes."""
    start = next((i for i, c in enumerate(text) if c in "{["), None)
    if start is None:
        return None
    depth, quote, escaped = 0, None, False
    for position in range(start, len(text)):
        char = text[position]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return text[start : position + 1]
    return None


def _json_from_python_style(text: str) -> str:
    """Single-quoted strings to double-quoted, True/False/None to JSON, trailing commas dropped."""
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in "\"'":
            end, value = _read_string(text, position)
            out.append(json.dumps(value, ensure_ascii=False))
            position = end
        elif char == ",":
            if not _TRAILING_COMMA.match(text, position):
                out.append(char)
            position += 1
        elif char.isalpha() or char == "_":
            word = _WORD.match(text, position).group(0)
            out.append(_PYTHON_WORDS.get(word, word))
            position += len(word)
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _read_string(text: str, start: int) -> tuple[int, str]:
    """A quoted string starting at `start`: (index after it, its value)."""
    quote, chars, position = text[start], [], start + 1
    while position < len(text):
        char = text[position]
        code = text[position + 2 : position + 6]
        if char == "\\" and text[position + 1 : position + 2] == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", code):
            chars.append(chr(int(code, 16)))
            position += 6
        elif char == "\\" and position + 1 < len(text):
            chars.append(_ESCAPES.get(text[position + 1], text[position + 1]))
            position += 2
        elif char == quote:
            return position + 1, "".join(chars)
        else:
            chars.append(char)
            position += 1
    return position, "".join(chars)


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
