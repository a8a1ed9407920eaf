"""The lexical channel: the question's words matched against the notes' titles and text by BM25
(the store's full-text index: FTS5 in SQLite, store/schema.sql; graph/lexical_index.py where the
store keeps none), as slots of a graph view with their scores; and reciprocal rank fusion, which
joins rankings by rank alone.

A question becomes the OR of its distinct words less stop words, so a note matching more of them,
and rarer ones, ranks higher (BM25's k1 = 1.2, b = 0.75; words are stemmed, accents folded).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..store.base import Store
from ..store.full_text import WORD

if TYPE_CHECKING:
    from ..graph.linking import RareWords
    from ..graph.view import GraphView
    from ..graph.views import GraphViews

__all__ = ["LexicalMatches", "lexical_matches", "reciprocal_rank_fusion", "search_terms"]

# Function words: nearly every note holds some, so they would match most of a large store and
# rank nothing (their BM25 weight is next to 0). Months, numbers and "may" stay: dates are asked.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves s t""".split()
)


def search_terms(text: str) -> list[str]:
    """The distinct lower-case words of `text` that are not stop words, in order.

    >>> search_terms("What did Caroline do on 7 May 2023, and where did Caroline go?")
    ['caroline', '7', 'may', '2023', 'go']
    """
    words = (word.lower() for word in WORD.findall(text))
    return list(dict.fromkeys(word for word in words if word not in STOP_WORDS))


@dataclass(frozen=True)
class LexicalMatches:
    """Passages of a graph view that match a question's words: their slots, best first, and
    their BM25 scores (higher: better); and the question's words few notes hold (`rare_words()`,
    read when first called: entity linking may take them for names, graph/linking.py)."""

    slots: np.ndarray
    scores: np.ndarray
    rare_words: RareWords = frozenset

    @classmethod
    def none(cls) -> LexicalMatches:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.slots)

    def moved(self, slots: dict[str, int], ids: Sequence[str]) -> LexicalMatches:
        """These matches in another view: `ids` are this view's passage ids by slot, `slots` the
        other's slots by id (a passage it does not hold is left out)."""
        moved = np.array([slots.get(ids[slot], -1) for slot in self.slots.tolist()], dtype=np.int64)
        return LexicalMatches(moved[moved >= 0], self.scores[moved >= 0], self.rare_words)

    def ranking(self, allowed: np.ndarray | None) -> np.ndarray:
        """The slots best first, only those `allowed` (a mask over the view's passages)."""
        return self.slots if allowed is None else self.slots[allowed[self.slots]]


def lexical_matches(
    store: Store,
    views: GraphViews,
    namespace: str,
    view: GraphView,
    text: str,
    limit: int,
    common: int | None,
    rare: int = 0,
) -> LexicalMatches:
    """The `limit` passages of `view` (the namespace's current view of `views`, or one as of a
    time) that best match the words of `text`, less words more than `common` of its passages
    hold, and the words of `text` that no more than `rare` of the namespace's passages hold (none
    when `rare` is 0; read when first asked for). Passages the view does not hold (written after
    its time) are left out."""
    terms = search_terms(text)
    if not terms:
        return LexicalMatches.none()

    @functools.cache
    def rare_words() -> frozenset[str]:
        rare_terms = store.rare_terms(namespace, terms, rare)
        if rare_terms is None:
            rare_terms = views.lexical_index(namespace, store).rare_terms(terms, rare)
        return frozenset(rare_terms)

    found: list[tuple[str, float]] | None = []
    if limit > 0:
        if common is not None and view.live_passages <= 2 * common:
            common = None  # a word in more notes is in half of them, and weighs nothing: no need to look
        found = store.passages_matching(namespace, terms, limit, common)
        if found is None:
            found = views.lexical_index(namespace, store).matching(terms, limit, common)
    return dataclasses.replace(
        _in_view(views, namespace, view, found), rare_words=rare_words if rare > 0 else frozenset
    )


def _in_view(views: GraphViews, namespace: str, view: GraphView, found: Sequence[tuple[str, float]]) -> LexicalMatches:
    if not found:
        return LexicalMatches.none()
    slots = views.passage_slots(namespace, view, [passage for passage, _ in found])
    scores = np.array([score for _, score in found], dtype=np.float64)
    held = slots >= 0
    held[held] = view.data.passage_alive[slots[held]]
    return LexicalMatches(slots[held], scores[held])


def reciprocal_rank_fusion(
    rankings: Sequence[np.ndarray], k: int, constant: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """The k items first by the sum, over the rankings (each best first), of 1 / (constant + rank)
    (rank counted from 1; Cormack, Clarke and Büttcher 2009), ties broken by item; and those sums.

    >>> items, scores = reciprocal_rank_fusion([np.array([3, 1, 2]), np.array([1, 2])], k=2)
    >>> items.tolist(), scores.round(4).tolist()
    ([1, 2], [0.0325, 0.032])
    """
    if not any(len(ranking) for ranking in rankings):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    items = np.concatenate([np.asarray(ranking, dtype=np.int64) for ranking in rankings])
    shares = np.concatenate([1.0 / (constant + np.arange(1, len(ranking) + 1)) for ranking in rankings])
    distinct, where = np.unique(items, return_inverse=True)
    summed = np.bincount(where, weights=shares, minlength=len(distinct))
    order = np.lexsort((distinct, -summed))[:k]
    return distinct[order], summed[order]
