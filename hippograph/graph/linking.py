"""Finding entities by name: in a question (query seeds) and in passage titles (topic edges)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..extract.normalize import match_key

_MAX_NAME_WORDS = 8
_WORD_EDGES = "\"'`“”‘’.,;:!?()[]{}"
_DISAMBIGUATOR = re.compile(r"\s*\([^()]*\)\s*$")  # "Tic Tac (film)" -> "Tic Tac"


class EntityIndex:
    """Entity indexes by match key (accent-folded normalised name)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._by_key: dict[str, int] = {}
        for index, name in enumerate(names):
            key = match_key(name)
            if key:
                self._by_key.setdefault(key, index)

    def lookup(self, phrase: str) -> int | None:
        return self._by_key.get(match_key(phrase))

    def named_in_title(self, title: str) -> set[int]:
        """The entities a passage title names: the whole title, or the title without a trailing
        disambiguator in parentheses."""
        found = (self.lookup(title), self.lookup(_DISAMBIGUATOR.sub("", title)))
        return {index for index in found if index is not None}

    def named_in_question(self, question: str) -> list[int]:
        """Entities whose names appear in the question, in question order; longer names are
        matched first and matches never overlap.

        A match must contain a capitalised word or a number (not counting the question's first
        word): lowercase words such as "city" or "film" name generic hubs, not the things
        asked about.
        """
        words = [w.strip(_WORD_EDGES) for w in question.split()]
        name_words = [0]  # name_words[i]: capitalised or numeric words before position i
        for position, word in enumerate(words):
            name_words.append(name_words[-1] + (position > 0 and (word[:1].isupper() or word[:1].isdigit())))
        taken = [False] * len(words)
        found: list[tuple[int, int]] = []  # (start, entity)
        for size in range(min(_MAX_NAME_WORDS, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                end = start + size
                if name_words[end] == name_words[start] or any(taken[start:end]):
                    continue
                index = self.lookup(" ".join(words[start:end]))
                if index is not None:
                    found.append((start, index))
                    taken[start:end] = [True] * size
        return list(dict.fromkeys(index for _, index in sorted(found)))
