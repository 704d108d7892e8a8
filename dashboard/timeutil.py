"""Time helpers: store UTC, show Asia/Shanghai."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


# ``--sim-hour``: the whole server lives at the simulated hour of today (case times, "today", the wall's clock and
# charts agree), a fixed offset from the real clock set once at start (set_clock_offset); 0 otherwise
_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (shifted by the simulated-hour offset, if one is set)."""
    return datetime.now(UTC) + _offset


def set_clock_offset(seconds: float) -> None:
    """Shift utcnow() by ``seconds`` from the real clock (0: the real clock)."""
    global _offset
    _offset = timedelta(seconds=seconds)


def clock_offset_s() -> float:
    """How far utcnow() is ahead of the real clock, in seconds (pages shift their own clocks by it)."""
    return _offset.total_seconds()


def sim_hour_offset_s(hour: float, real: datetime | None = None) -> float:
    """The offset that puts today's local clock at ``hour`` (0–24) now, in whole minutes rounded up (the clock then
    reads ``hour`` plus under a minute; processes started within the same minute agree; the date stays today's)."""
    loc = local(real or datetime.now(UTC))
    sod = loc.hour * 3600 + loc.minute * 60 + loc.second + loc.microsecond / 1e6
    return math.ceil((hour * 3600 - sod) / 60) * 60.0


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
