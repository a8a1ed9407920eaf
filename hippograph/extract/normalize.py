"""Normalising entity phrases so that "the Lumen Institute" and "Lumen Institute" are one node."""

from __future__ import annotations

import re
import unicodedata

_LEADING_WORDS = {
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "his",
    "her",
    "its",
    "their",
    "our",
    "my",
    "your",
    "some",
    "any",
    "each",
    "every",
}
_PRONOUNS = {
    "i",
    "me",
    "you",
    "he",
    "him",
    "she",
    "it",
    "we",
    "us",
    "they",
    "them",
    "who",
    "whom",
    "which",
    "what",
    "that",
    "this",
    "these",
    "those",
    "one",
    "himself",
    "herself",
    "itself",
    "themselves",
    "there",
    "here",
    "something",
    "someone",
    "anything",
    "everything",
}
_EDGE_PUNCTUATION = " \t\n\"'`.,;:!?()[]{}-–—"


def clean_phrase(phrase: str) -> str:
    """The phrase as shown to users: outer punctuation, leading articles and "'s" removed."""
    words = " ".join(phrase.split()).strip(_EDGE_PUNCTUATION).split(" ")
    while words and words[0].lower() in _LEADING_WORDS:
        words = words[1:]
    text = " ".join(words).strip(_EDGE_PUNCTUATION)
    text = re.sub(r"\s*['’]s$", "", text)
    return text


def normalize_entity(phrase: str) -> str:
    """The key two phrases share when they name the same thing; "" when it names nothing."""
    key = clean_phrase(phrase).lower()
    if len(key) < 2 or key in _PRONOUNS or not any(ch.isalnum() for ch in key):
        return ""
    return key


def match_key(phrase: str) -> str:
    """The key used to find an entity by name in a question or a title: the entity key with
    accents folded, so "Aschenbrodel" finds "Aschenbrödel"."""
    key = normalize_entity(phrase)
    if key.isascii():
        return key
    return "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))


_BE = {"is", "was", "are", "were", "be", "been", "being", "am"}
_HAVE = {"has", "had", "have", "having"}
_VERB_ENDINGS = (("ies", "y"), ("ied", "y"), ("ing", ""), ("es", ""), ("ed", ""), ("s", ""), ("e", ""))


def relation_key(relation: str) -> str:
    """The key two relations share when they differ only in tense or number: the first word
    crudely stemmed ("lives in", "lived in", "live in" -> "liv in"; "is"/"was" -> "be")."""
    words = relation.lower().split()
    if not words:
        return ""
    first = words[0]
    if first in _BE:
        first = "be"
    elif first in _HAVE:
        first = "have"
    else:
        for ending, replacement in _VERB_ENDINGS:
            if first.endswith(ending) and len(first) - len(ending) >= 2:
                first = first[: -len(ending)] + replacement
                break
    return " ".join([first, *words[1:]])
