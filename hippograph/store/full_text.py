"""What SQLite's FTS5 needs to rank notes by BM25, for the store's full-text index
(schema.sql) and the client-side one of stores without it (graph/lexical_index.py): the
tokenizer, and a query string that matches any of a question's words."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

__all__ = ["TOKENIZER", "WORD", "any_of", "uncommon"]

# Porter stemming over unicode61 words with accents folded: "groups" matches "group", "café" "cafe".
TOKENIZER = "porter unicode61 remove_diacritics 2"
# A word of a question as the lexical channel looks it up (retrieve/lexical.search_terms)
WORD = re.compile(r"\w+")


def any_of(terms: Sequence[str]) -> str:
    """An FTS5 query matching text that holds any of `terms`, each taken literally (a quoted
    string: no operator, column name or prefix can be slipped in).

    >>> any_of(["caroline", 'a"b'])
    '("caroline" OR "a""b")'
    """
    return "(" + " OR ".join('"' + term.replace('"', '""') + '"' for term in terms) + ")"


def uncommon(db: sqlite3.Connection, table: str, terms: Sequence[str], common: int | None) -> list[str]:
    """The `terms` that no more than `common` rows of the FTS5 `table` hold (None: all). Ranking by a word
    scores every row that holds it (about 1 µs a row), and a word in half the rows or more has
    no BM25 weight at all (FTS5 floors its IDF), so below 2 x `common` rows only weightless words
    are left out. Each word costs a walk of at most `common` row ids."""
    if common is None:
        return list(terms)
    return [
        term
        for term in terms
        if db.execute(
            f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT 1 OFFSET ?", (any_of([term]), common)
        ).fetchone()
        is None
    ]
