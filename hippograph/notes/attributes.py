"""A note's keywords, tags and context line, worked out offline from what extraction found.

Keywords are the note's entities, the most specific first (mentioned by the fewest notes of
its namespace). Tags are its recurring topics: its entities that at least `TAG_MIN_NOTES`
notes mention, the most frequent first. Notes are counted up to `NOTES_COUNTED`: past that an
entity is a topic, whatever its count, and counting on would read a popular entity's every
mention on each write (entities counted that high keep their order of appearance). The context
line is the note's title, else its leading sentence.
"""

from __future__ import annotations

import re

from ..types import NoteAttributes, Passage

MAX_KEYWORDS = 8
MAX_TAGS = 5
TAG_MIN_NOTES = 3
NOTES_COUNTED = 1000
MAX_EVOLVED_TAGS = 8  # evolution leaves a note at most this many tags
CONTEXT_WORDS = 30
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def offline_attributes(passage: Passage, names: list[str], note_counts: list[int]) -> NoteAttributes:
    """Attributes of `passage` from its entity `names` (in order of first appearance) and how
    many notes of the namespace mention each (this one included)."""
    order = sorted(range(len(names)), key=lambda i: (note_counts[i], i))
    keywords = tuple(names[i] for i in order[:MAX_KEYWORDS])
    frequent = sorted((i for i in order if note_counts[i] >= TAG_MIN_NOTES), key=lambda i: (-note_counts[i], i))
    tags = tuple(dict.fromkeys(names[i].lower() for i in frequent))[:MAX_TAGS]
    return NoteAttributes(keywords, tags, context_line(passage))


def context_line(passage: Passage) -> str:
    """The title, else the first sentence (cut at CONTEXT_WORDS words)."""
    if passage.title:
        return passage.title
    words = _SENTENCE_END.split(passage.text.strip(), maxsplit=1)[0].split()
    return " ".join(words[:CONTEXT_WORDS]) + (" ..." if len(words) > CONTEXT_WORDS else "")
