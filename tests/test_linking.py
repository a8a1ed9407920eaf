"""Finding entities by name in questions and passage titles (the seeds and topic edges of retrieval)."""

from __future__ import annotations

from hippograph.graph.linking import EntityIndex

NAMES = ["Philbrook Museum", "Admiral Twin", "Admiral", "city", "Aschenbrödel", "Tic Tac", "Lake Ontario", "1998"]


def named(question: str) -> list[str]:
    return [NAMES[i] for i in EntityIndex(NAMES).named_in_question(question)]


def test_longest_names_win_never_overlap_and_come_in_question_order():
    assert named("When did the Admiral Twin open near the Philbrook Museum?") == ["Admiral Twin", "Philbrook Museum"]
    assert named("Was Admiral at Lake Ontario Admiral Twin?") == ["Admiral", "Lake Ontario", "Admiral Twin"]


def test_lowercase_generic_words_are_not_seeds_but_capitalised_words_and_numbers_are():
    assert named("Which city holds the Admiral?") == ["Admiral"]
    assert named("What opened in 1998?") == ["1998"]
    assert named("City of what?") == []  # the first word's capital does not count


def test_names_match_without_accents_case_or_surrounding_punctuation():
    assert named('Who wrote "Aschenbrodel"? And LAKE ONTARIO?') == ["Aschenbrödel", "Lake Ontario"]


def test_titles_name_their_entity_with_or_without_a_disambiguator():
    index = EntityIndex(NAMES)
    assert index.named_in_title("Tic Tac (film)") == {NAMES.index("Tic Tac")}
    assert index.named_in_title("Philbrook Museum") == {NAMES.index("Philbrook Museum")}
    assert index.named_in_title("History of Tulsa") == set()
