"""Finding entities by name: in a question (query seeds) and in passage titles (topic edges)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TypeVar

import numpy as np

from ..extract.normalize import match_key
from ..store.full_text import WORD

T = TypeVar("T")
RareWords = Callable[[], Collection[str]]  # a question's words few notes hold, read when first needed

_MAX_NAME_WORDS = 8
_WORD_EDGES = "\"'`“”‘’.,;:!?()[]{}"
_DISAMBIGUATOR = re.compile(r"\s*\([^()]*\)\s*$")  # "Tic Tac (film)" -> "Tic Tac"


class EntityIndex:
    """Entity indexes by match key (accent-folded normalised name); of entities sharing a key,
    the one with the smallest id (the first, without `ids`). Dead entities (`alive` False) are
    left out; `updated` gives the index after entities come and go, leaving this one as it is."""

    def __init__(self, names: Sequence[str], ids: Sequence[str] | None = None, alive: np.ndarray | None = None) -> None:
        self._ids = ids if ids is not None else range(len(names))
        self._by_key: dict[str, int] = {}
        self._sharing: dict[str, list[int]] = {}  # keys more than one entity has
        for index, name in enumerate(names):
            if alive is None or alive[index]:
                self._add(match_key(name), index)

    def updated(
        self, ids: Sequence[str], removed: Iterable[tuple[int, str]], added: Iterable[tuple[int, str]]
    ) -> tuple[EntityIndex, set[str]]:
        """A new index without the (index, name) entities `removed` and with those `added`, and
        the keys whose entity it changed."""
        new = object.__new__(EntityIndex)
        new._ids, new._by_key = ids, dict(self._by_key)
        new._sharing = {key: list(indexes) for key, indexes in self._sharing.items()}
        keys = set()
        for index, name in removed:
            keys.add(key := match_key(name))
            new._remove(key, index)
        for index, name in added:
            keys.add(key := match_key(name))
            new._add(key, index)
        return new, keys - {""}

    def _add(self, key: str, index: int) -> None:
        held = self._by_key.get(key)
        if not key or held == index:
            return
        if held is None:
            self._by_key[key] = index
            return
        sharing = self._sharing.setdefault(key, [held])
        sharing.append(index)
        self._by_key[key] = min(sharing, key=self._ids.__getitem__)

    def _remove(self, key: str, index: int) -> None:
        sharing = self._sharing.get(key)
        if sharing is None:
            if self._by_key.get(key) == index:
                del self._by_key[key]
            return
        if index in sharing:
            sharing.remove(index)
            self._by_key[key] = min(sharing, key=self._ids.__getitem__)
            if len(sharing) == 1:
                del self._sharing[key]

    def lookup(self, phrase: str) -> int | None:
        return self._by_key.get(match_key(phrase))

    def named_in_title(self, title: str) -> set[int]:
        """The entities a passage title names: the whole title, or the title without a trailing
        disambiguator in parentheses."""
        return {self._by_key[key] for key in title_keys(title) if key in self._by_key}

    def named_in_question(self, question: str, rare_words: RareWords = frozenset) -> list[int]:
        """Entities whose names appear in the question: see `names_in_question`."""
        return names_in_question(question, self.lookup, rare_words)


def names_in_question(question: str, lookup: Callable[[str], T | None], rare_words: RareWords = frozenset) -> list[T]:
    """What `lookup` finds for the phrases of the question, in question order; longer phrases are
    looked up first and matches never overlap.

    A match must contain a capitalised word or a number (not counting the question's first
    word): lowercase words such as "city" or "film" name generic hubs, not the things
    asked about. When such phrases find nothing (a question typed in lower case, or naming only
    common things), a match must contain one of the words `rare_words()` gives instead: lower-case
    words that few notes hold (the lexical index's Store.rare_terms), so likely a name. It is
    called only then, so a question whose capitals name an entity costs no lookup of its words.

    >>> names_in_question("Who founded Brightwater Labs in Oslo?", {"Brightwater Labs": 1, "Oslo": 2}.get)
    [1, 2]
    >>> names_in_question("where was holt born?", {"holt": 1, "born": 2}.get, rare_words=lambda: {"holt"})
    [1]
    """
    words = [w.strip(_WORD_EDGES) for w in question.split()]
    capitalised = [position > 0 and (word[:1].isupper() or word[:1].isdigit()) for position, word in enumerate(words)]
    found = _phrases_found(words, capitalised, lookup)
    if not found and (rare := rare_words()):
        found = _phrases_found(words, [any(t in rare for t in WORD.findall(w.lower())) for w in words], lookup)
    return found


def _phrases_found(words: list[str], name_like: list[bool], lookup: Callable[[str], T | None]) -> list[T]:
    """What `lookup` finds for the phrases of `words` holding a `name_like` word, longest first,
    never overlapping, in the order of the words."""
    name_words = [0]  # name_words[i]: name-like words before position i
    for is_name in name_like:
        name_words.append(name_words[-1] + is_name)
    taken = [False] * len(words)
    found: list[tuple[int, T]] = []  # (start, what was found)
    for size in range(min(_MAX_NAME_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            end = start + size
            if name_words[end] == name_words[start] or any(taken[start:end]):
                continue
            match = lookup(" ".join(words[start:end]))
            if match is not None:
                found.append((start, match))
                taken[start:end] = [True] * size
    return list(dict.fromkeys(match for _, match in sorted(found, key=lambda item: item[0])))


def question_phrases(question: str, rare_words: Collection[str] = ()) -> set[str]:
    """Every phrase of the question that `names_in_question` may look up, given the question's
    rare words `rare_words`."""
    phrases: set[str] = set()
    # finds nothing, so every phrase is tried, those of rare words too
    names_in_question(question, lambda phrase: phrases.add(phrase), lambda: rare_words)
    return phrases


def title_keys(title: str) -> set[str]:
    """The match keys an entity named by a passage title can have: the whole title's, or the
    title's without a trailing disambiguator in parentheses."""
    return {key for key in (match_key(title), match_key(_DISAMBIGUATOR.sub("", title))) if key} if title else set()
