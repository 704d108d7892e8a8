"""The Chinese working calendar: weekends, public holidays and make-up workdays.

Case time limits are counted in working hours (处置时限). The State Council's schedule
comes from the maintained ``chinese-calendar`` package (PyPI ``chinesecalendar``; a new
year arrives with ``pip install -U chinesecalendar`` once the schedule is published,
usually in November). A center's own changes, or a year the package does not know yet,
go in ``data/calendar/local_days.csv`` (one row per changed day), which wins over the
package. A year covered by neither would silently count public holidays as workdays, so
``official()`` logs a warning at start when the current year is not covered.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from .timeutil import SHANGHAI, UTC, as_utc, utcnow

log = logging.getLogger(__name__)

LOCAL_TABLE = Path(__file__).resolve().parent.parent / "data" / "calendar" / "local_days.csv"
# office hours of a street center: morning and afternoon blocks (Asia/Shanghai)
DEFAULT_BLOCKS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and office-hour blocks; all inputs and outputs are aware datetimes."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up workdays on weekends (调休上班)
    blocks: tuple[tuple[time, time], ...] = DEFAULT_BLOCKS
    names: dict[date, str] = field(default_factory=dict, compare=False)

    years: frozenset[int] = field(default=frozenset(), compare=False)  # years whose schedule is known

    @classmethod
    def official(cls, local: Path | None = LOCAL_TABLE, blocks=DEFAULT_BLOCKS, *,
                 today: date | None = None) -> WorkCalendar:
        """The State Council schedule (chinese-calendar) with the local table's rows on top; warns when
        ``today``'s year (default: now in Asia/Shanghai) is covered by neither."""
        from chinese_calendar import constants as cc

        holidays = {d: _holiday_name(n) for d, n in cc.holidays.items()}
        workdays = {d: f"{_holiday_name(n)}调休上班" for d, n in cc.workdays.items()}
        years = {d.year for d in holidays}
        if local is not None and local.exists():
            for d, kind, name in read_table(local):
                (holidays if kind == "holiday" else workdays)[d] = name
                (workdays if kind == "holiday" else holidays).pop(d, None)
                years.add(d.year)
        cal = cls(frozenset(holidays), frozenset(workdays), tuple(blocks), {**holidays, **workdays},
                  frozenset(years))
        cal.warn_if_uncovered(today or utcnow().astimezone(SHANGHAI).date())
        return cal

    @classmethod
    def from_csv(cls, path: Path, blocks=DEFAULT_BLOCKS) -> WorkCalendar:
        """A calendar of exactly one table (columns date, kind, name), without the official schedule."""
        holidays: set[date] = set()
        workdays: set[date] = set()
        names: dict[date, str] = {}
        for d, kind, name in read_table(path):
            (holidays if kind == "holiday" else workdays).add(d)
            names[d] = name
        return cls(frozenset(holidays), frozenset(workdays), tuple(blocks), names,
                   frozenset(d.year for d in names))

    def covers(self, year: int) -> bool:
        """True when the holidays and make-up workdays of ``year`` are known."""
        return year in self.years

    def warn_if_uncovered(self, today: date) -> bool:
        """Log a warning (and return True) when ``today``'s year has no known schedule."""
        if self.covers(today.year):
            return False
        known = f"{min(self.years)}–{max(self.years)}" if self.years else "none"
        log.warning("working calendar: no holiday schedule for %d (known years: %s); public holidays count as "
                    "workdays and time limits run through them. Upgrade chinesecalendar or add the year's days "
                    "to %s", today.year, known, LOCAL_TABLE)
        return True

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

    def deadline(self, start: datetime, hours: float, clock: str = "working") -> datetime:
        """When a time limit of ``hours`` that started at ``start`` runs out: ``clock`` "natural" counts hours
        around the clock (火情: reported 06:14, due 07:14), "working" counts office hours on this calendar."""
        if clock == "natural":
            return as_utc(start) + timedelta(hours=hours)
        return self.add_working_hours(start, hours)

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


def read_table(path: Path) -> list[tuple[date, str, str]]:
    """Rows (date, "holiday" | "workday", name) of a calendar table."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            d = date.fromisoformat(row["date"])
            kind = row["kind"].strip()
            if kind not in ("holiday", "workday"):
                raise ValueError(f"{path}: kind must be holiday or workday, got {kind!r} on {d}")
            rows.append((d, kind, (row.get("name") or "").strip()))
    return rows


_NAMES_ZH = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
             "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节"}


def _holiday_name(english: str) -> str:
    """The package names holidays in English; the calendar names them as the schedule does."""
    return _NAMES_ZH.get(english, english)
