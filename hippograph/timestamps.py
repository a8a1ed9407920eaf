"""Times as the store keeps them: UTC ISO 8601 strings with seconds, which sort as they compare."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def to_utc(value: datetime | date | str, what: str, error: type[Exception]) -> str:
    """`value` (a datetime, a date, or an ISO 8601 string) as a UTC ISO string; a time without
    a zone is taken as UTC. `error` is raised, naming `what`, when it is no time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise error(f"{what} {value!r} is not an ISO 8601 time such as 2024-05-01T13:56:00+00:00") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise error(f"{what} must be a datetime, a date or an ISO 8601 string, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC).isoformat(timespec="seconds")
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first representable UTC time
        raise error(f"{what} {value.isoformat()!r} is outside the calendar once converted to UTC") from None
