"""The Chinese working calendar: weekends, public holidays and make-up workdays.

Case time limits are counted in working hours (处置时限). The holiday table is data
(``data/calendar/cn_workdays.csv``, one row per changed day) so a center can add
next year's State Council schedule without a code change.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from .timeutil import SHANGHAI, UTC, as_utc

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "data" / "calendar" / "cn_workdays.csv"
# office hours of a street center: morning and afternoon blocks (Asia/Shanghai)
DEFAULT_BLOCKS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and office-hour blocks; all inputs and outputs are aware datetimes."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up workdays on weekends (调休上班)
    blocks: tuple[tuple[time, time], ...] = DEFAULT_BLOCKS
    names: dict[date, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_csv(cls, path: Path = DEFAULT_TABLE, blocks=DEFAULT_BLOCKS) -> "WorkCalendar":
        """Read the holiday/make-up-day table (columns date, kind, name)."""
        holidays, workdays, names = set(), set(), {}
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                d = date.fromisoformat(row["date"])
                kind = row["kind"].strip()
                if kind == "holiday":
                    holidays.add(d)
                elif kind == "workday":
                    workdays.add(d)
                else:
                    raise ValueError(f"{path}: kind must be holiday or workday, got {kind!r} on {d}")
                names[d] = row.get("name", "")
        return cls(frozenset(holidays), frozenset(workdays), tuple(blocks), names)

    def is_workday(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def _day_blocks(self, d: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(d):
            return []
        return [(datetime.combine(d, a, tzinfo=SHANGHAI), datetime.combine(d, b, tzinfo=SHANGHAI))
                for a, b in self.blocks]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant when ``hours`` working hours have passed after ``start``."""
        remaining = timedelta(hours=hours)
        cur = as_utc(start).astimezone(SHANGHAI)
        d = cur.date()
        for _ in range(3660):  # ten years of days: a limit, never reached by real limits
            for a, b in self._day_blocks(d):
                if cur >= b:
                    continue
                s = max(cur, a)
                if s + remaining <= b:
                    return (s + remaining).astimezone(UTC)
                remaining -= b - s
                cur = b
            d += timedelta(days=1)
            cur = max(cur, datetime.combine(d, time(0), tzinfo=SHANGHAI))
        raise ValueError("time limit too long for the working calendar")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 if end ≤ start)."""
        a0, b0 = as_utc(start).astimezone(SHANGHAI), as_utc(end).astimezone(SHANGHAI)
        if b0 <= a0:
            return 0.0
        total = timedelta(0)
        d = a0.date()
        while d <= b0.date():
            for a, b in self._day_blocks(d):
                lo, hi = max(a, a0), min(b, b0)
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total.total_seconds() / 3600.0

    def subtract_working_hours(self, end: datetime, hours: float) -> datetime:
        """The latest instant from which ``hours`` working hours have passed by ``end``."""
        remaining = timedelta(hours=hours)
        cur = as_utc(end).astimezone(SHANGHAI)
        d = cur.date()
        for _ in range(3660):
            for a, b in reversed(self._day_blocks(d)):
                if cur <= a:
                    continue
                e = min(cur, b)
                if e - remaining >= a:
                    return (e - remaining).astimezone(UTC)
                remaining -= e - a
                cur = a
            d -= timedelta(days=1)
            cur = min(cur, datetime.combine(d + timedelta(days=1), time(0), tzinfo=SHANGHAI))
        raise ValueError("time span too long for the working calendar")

    def working_hours_between_many(self, starts, ends) -> "np.ndarray":
        """Vectorised ``working_hours_between`` for arrays of aware datetimes (NaT/None → NaN)."""
        import pandas as pd

        a = pd.to_datetime(pd.Series(starts), utc=True).dt.tz_convert(SHANGHAI).dt.tz_localize(None)
        b = pd.to_datetime(pd.Series(ends), utc=True).dt.tz_convert(SHANGHAI).dt.tz_localize(None)
        ok = (a.notna() & b.notna()).to_numpy()
        out = np.full(len(a), np.nan)
        if not ok.any():
            return out
        a, b = a[ok], b[ok]
        first, last = min(a.min(), b.min()).normalize(), max(a.max(), b.max()).normalize()
        days = pd.date_range(first, last, freq="D")
        work = np.array([self.is_workday(d.date()) for d in days], dtype=float)
        blocks = [((x.hour * 60 + x.minute) / 60.0, (y.hour * 60 + y.minute) / 60.0) for x, y in self.blocks]
        per_day = sum(y - x for x, y in blocks)
        cum = np.concatenate([[0.0], np.cumsum(work * per_day)])  # working hours before each day

        def clock(t: "pd.Series") -> np.ndarray:
            idx = ((t.dt.normalize() - first) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
            tod = ((t - t.dt.normalize()) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
            within = sum(np.clip(tod - x, 0.0, y - x) for x, y in blocks)
            return cum[idx] + work[idx] * within

        out[ok] = np.maximum(clock(b) - clock(a), 0.0)
        return out
