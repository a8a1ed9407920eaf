"""Splitting a document's text into passages of about `chunk_words` words."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_MAX_CHARS_PER_WORD = 40  # a chunk may hold at most chunk_words * 40 characters
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def chunk_text(text: str, chunk_words: int) -> list[str]:
    """Split text into chunks of at most about `chunk_words` words.

    A text that already fits is returned whole and unchanged (stripped). Longer
    texts are cut at paragraph, then sentence, then word boundaries; text with
    no spaces at all is cut by characters so that no chunk grows without bound.
    """
    text = text.strip()
    if not text:
        return []
    max_chars = chunk_words * _MAX_CHARS_PER_WORD
    if len(text.split()) <= chunk_words and len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            if len(sentence.split()) <= chunk_words and len(sentence) <= max_chars:
                pieces.append(sentence)
            else:  # an overlong sentence goes word by word; a word longer than a chunk, in slices
                pieces += [w[i : i + max_chars] for w in sentence.split() for i in range(0, len(w), max_chars)]
    return _pack(pieces, chunk_words, max_chars)


def _pack(pieces: list[str], chunk_words: int, max_chars: int) -> list[str]:
    """Join consecutive pieces while the chunk stays within both bounds."""
    chunks: list[str] = []
    current: list[str] = []
    words = chars = 0
    for piece in pieces:
        piece_words, piece_chars = len(piece.split()), len(piece) + 1
        if current and (words + piece_words > chunk_words or chars + piece_chars > max_chars):
            chunks.append(" ".join(current))
            current, words, chars = [], 0, 0
        current.append(piece)
        words += piece_words
        chars += piece_chars
    if current:
        chunks.append(" ".join(current))
    return chunks
