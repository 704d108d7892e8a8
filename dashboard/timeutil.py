"""Time helpers: store UTC, show Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local(value: datetime) -> datetime:
    """The same instant in Asia/Shanghai."""
    return as_utc(value).astimezone(SHANGHAI)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a calendar day in Asia/Shanghai."""
    start = datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai."""
    return local(now or utcnow()).date()


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, or None."""
    return None if value is None else local(value).isoformat(timespec="seconds")
