"""Relative time expressions in a note ("yesterday", "last Friday", "two weeks ago", "next month")
resolved against the note's own time into the days they name, so that "7 May 2023" can be found
and filtered on beside a turn that says "yesterday".

A closed set of English patterns, each resolved at its own grain (a day, a weekend, a week,
Monday to Sunday, a month or a year). Text that names no such expression gives nothing: a
general date parser (dateparser's search_dates) was tried first and took "we" and "may" for dates,
resolved "next month" to a single day, and cost 20 ms a turn.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import re
from datetime import date, timedelta

from .types import TimeMention

__all__ = ["asks_when", "read_times", "stored_times", "time_mentions"]

_WEEKDAYS = [name.lower() for name in calendar.day_name]  # monday .. sunday
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "a couple of": 2,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_COUNT = r"(?P<count>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_PATTERNS = [
    (
        "day_offset",
        r"(?P<word>the day before yesterday|the day after tomorrow|yesterday|today|tonight|tomorrow|last night)",
    ),
    ("weekday", r"(?P<which>last|next|this) (?P<day>" + "|".join(_WEEKDAYS) + ")"),
    ("period", r"(?P<which>last|next|this) (?P<period>weekend|week|month|year)"),
    ("ago", _COUNT + " " + _UNIT + " ago"),
    ("ahead", "in " + _COUNT + " " + _UNIT),
]
_EXPRESSIONS = [(kind, re.compile(rf"\b{pattern}\b", re.I)) for kind, pattern in _PATTERNS]
_DAY_OFFSETS = {
    "the day before yesterday": -2,
    "yesterday": -1,
    "last night": -1,
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "the day after tomorrow": 2,
}


def _words(start: date, grain: str) -> str:
    """The days in words, as a question would name them.

    >>> _words(date(2023, 5, 7), "day"), _words(date(2023, 6, 1), "month"), _words(date(2023, 5, 1), "week")
    ('7 May 2023', 'June 2023', 'the week of 1 May 2023')
    """
    day = f"{start.day} {calendar.month_name[start.month]} {start.year}"
    return {
        "day": day,
        "weekend": f"the weekend of {day}",
        "week": f"the week of {day}",
        "month": f"{calendar.month_name[start.month]} {start.year}",
        "year": str(start.year),
    }[grain]


def time_mentions(text: str, at: date) -> list[TimeMention]:
    """The relative time expressions of `text` resolved against `at`, the day it was said, in
    the order they appear.

    >>> [str(m) for m in time_mentions("I went yesterday; we go again next month.", date(2023, 5, 8))]
    ['yesterday = 7 May 2023', 'next month = June 2023']
    >>> [(m.text, m.start, m.end) for m in time_mentions("Last Friday, two weeks ago", date(2023, 5, 8))]
    [('Last Friday', '2023-05-05', '2023-05-05'), ('two weeks ago', '2023-04-24', '2023-04-30')]
    >>> time_mentions("We may go to the lake.", date(2023, 5, 8))
    []
    """
    matches = sorted(
        (
            (match.start(), -match.end(), kind, match)
            for kind, pattern in _EXPRESSIONS
            for match in pattern.finditer(text)
        ),
        key=lambda found: found[:2],
    )
    found, covered = [], 0
    for start, _, kind, match in matches:
        if start < covered:  # inside a longer expression ("the day before yesterday")
            continue
        covered = match.end()
        groups = {name: value.lower() for name, value in match.groupdict().items() if value is not None}
        try:
            first, last, grain = _resolved(kind, groups, at)
        except (ValueError, OverflowError):  # a day before year 1 or after 9999
            continue
        found.append(TimeMention(match.group(0), first.isoformat(), last.isoformat(), _words(first, grain)))
    return found


def stored_times(text: str, time: str | None) -> str:
    """The time mentions of a note said at `time` (UTC ISO 8601; None: no time was given, and
    nothing is resolved) as the store keeps them: a JSON list of objects.

    >>> stored_times("See you tomorrow!", "2023-05-08T13:56:00+00:00")
    '[{"text": "tomorrow", "start": "2023-05-09", "end": "2023-05-09", "words": "9 May 2023"}]'
    """
    if time is None:
        return "[]"
    return json.dumps([dataclasses.asdict(m) for m in time_mentions(text, date.fromisoformat(time[:10]))])


def read_times(stored: str | None) -> tuple[TimeMention, ...]:
    """`stored_times`'s JSON read back (None, from a record written before there were times: none)."""
    return tuple(TimeMention(**mention) for mention in json.loads(stored or "[]"))


def _resolved(kind: str, groups: dict[str, str], at: date) -> tuple[date, date, str]:
    if kind == "day_offset":
        day = at + timedelta(days=_DAY_OFFSETS[groups["word"]])
        return day, day, "day"
    if kind == "weekday":
        return (day := _weekday(groups["which"], _WEEKDAYS.index(groups["day"]), at)), day, "day"
    if kind == "period":
        shift = {"last": -1, "this": 0, "next": 1}[groups["which"]]
        return _period(groups["period"], shift, at)
    count = int(groups["count"]) if groups["count"].isdigit() else _NUMBERS[groups["count"]]
    return _period(groups["unit"], count if kind == "ahead" else -count, at)


def _weekday(which: str, weekday: int, at: date) -> date:
    """ "last Friday": the latest Friday before `at`; "next Friday": the first after it; "this
    Friday": the Friday of `at`'s week (Monday to Sunday)."""
    if which == "last":
        return at - timedelta(days=(at.weekday() - weekday - 1) % 7 + 1)
    if which == "next":
        return at + timedelta(days=(weekday - at.weekday() - 1) % 7 + 1)
    return at + timedelta(days=weekday - at.weekday())


def _period(period: str, shift: int, at: date) -> tuple[date, date, str]:
    """The day, weekend, week (Monday to Sunday), month or year `shift` of them from `at`'s."""
    if period == "day":
        day = at + timedelta(days=shift)
        return day, day, "day"
    if period in ("week", "weekend"):
        moved = at + timedelta(days=7 * shift)
        monday = moved - timedelta(days=moved.weekday())
        if period == "weekend":
            return monday + timedelta(days=5), monday + timedelta(days=6), "weekend"
        return monday, monday + timedelta(days=6), "week"
    if period == "month":
        month = at.year * 12 + at.month - 1 + shift
        year, month = divmod(month, 12)
        return date(year, month + 1, 1), date(year, month + 1, calendar.monthrange(year, month + 1)[1]), "month"
    return date(at.year + shift, 1, 1), date(at.year + shift, 12, 31), "year"


_ASKS_WHEN = re.compile(
    r"^\W*(?:when\b|since when\b|how long ago\b|(?:in |on )?(?:what|which) (?:date|day|week|month|year|time)\b)", re.I
)


def asks_when(question: str) -> bool:
    """Whether the question asks for a time.

    >>> asks_when("When did Caroline go to the support group?"), asks_when("In which year did she move?")
    (True, True)
    >>> asks_when("What did Caroline paint when she was young?")
    False
    """
    return _ASKS_WHEN.match(question) is not None
