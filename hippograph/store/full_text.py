"""What SQLite's FTS5 needs to rank notes by BM25, for the store's full-text index
(schema.sql) and the client-side one of stores without it (graph/lexical_index.py): the
tokenizer, and a query string that matches any of a question's words."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["TOKENIZER", "any_of"]

# Porter stemming over unicode61 words with accents folded: "groups" matches "group", "café" "cafe".
TOKENIZER = "porter unicode61 remove_diacritics 2"


def any_of(terms: Sequence[str]) -> str:
    """An FTS5 query matching text that holds any of `terms`, each taken literally (a quoted
    string: no operator, column name or prefix can be slipped in).

    >>> any_of(["caroline", 'a"b'])
    '("caroline" OR "a""b")'
    """
    return "(" + " OR ".join('"' + term.replace('"', '""') + '"' for term in terms) + ")"
