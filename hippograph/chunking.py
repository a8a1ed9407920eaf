"""Splitting a document's text into passages of about `chunk_words` words."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def chunk_text(text: str, chunk_words: int) -> list[str]:
    """Split text into chunks of at most about `chunk_words` words.

    A text that already fits is returned whole and unchanged (stripped). Longer
    texts are cut at paragraph, then sentence, then word boundaries.
    """
    text = text.strip()
    if not text:
        return []
    if len(text.split()) <= chunk_words:
        return [text]
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            pieces.extend(_split_long(sentence, chunk_words))
    return _pack(pieces, chunk_words)


def _split_long(sentence: str, chunk_words: int) -> list[str]:
    words = sentence.split()
    return [" ".join(words[i : i + chunk_words]) for i in range(0, len(words), chunk_words)]


def _pack(pieces: list[str], chunk_words: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        words = len(piece.split())
        if current and size + words > chunk_words:
            chunks.append(" ".join(current))
            current, size = [], 0
        current.append(piece)
        size += words
    if current:
        chunks.append(" ".join(current))
    return chunks
