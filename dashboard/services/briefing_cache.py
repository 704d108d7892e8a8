"""Finished briefings of past days, kept briefly and dropped as soon as anything they count changes.

A past day's figures only change through late edits: a case transition or merge (``case_file.updated_at``), a late-imported case (its id),
late GPS fixes (the day's rollup in ``position_day``), patrols, mouse-patrol stops and alerts of that day.
The key is (day, scope); an entry is served only while a fingerprint of those sources — a handful of
indexed aggregates, a few milliseconds — is unchanged and it is younger than ``ttl_s`` (which bounds
what the fingerprint does not see: renamed workers or grids, the roster). Today is never cached.
"""
from __future__ import annotations

import copy
import threading
import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Alert, Case, Patrol, PatrolStopLog, PositionDay, ResidentTicket, Visit
from ..timeutil import local_day_bounds, utcnow
from ..workcal import WorkCalendar
from .briefing import briefing


def fingerprint(session: Session, day: date) -> tuple:
    """What a past day's briefing depends on that can still change, in a few indexed aggregates."""
    start, end = local_day_bounds(day)
    cases = session.execute(select(func.max(Case.updated_at), func.max(Case.id))).one()  # edits, late imports
    fixes = session.execute(select(func.count(), func.coalesce(func.sum(PositionDay.fixes), 0)).where(
        PositionDay.day == day)).one()
    patrols = session.execute(select(func.count(), func.max(Patrol.id), func.max(Patrol.ended_at)).where(
        Patrol.started_at >= start, Patrol.started_at < end)).one()
    stops = session.scalar(select(func.count()).select_from(PatrolStopLog).where(PatrolStopLog.day == day))
    alerts = sorted(session.execute(select(Alert.state, func.count()).where(
        Alert.created_at >= start, Alert.created_at < end).group_by(Alert.state)).all())
    # residents' answers and visits (the satisfaction and visit sections): any new one or a late answer
    residents = session.execute(select(func.count(), func.max(ResidentTicket.id), func.max(ResidentTicket.satisfaction_at),
                                       func.max(ResidentTicket.first_response_at))).one()
    visits = session.execute(select(func.count(), func.max(Visit.id)).select_from(Visit)).one()
    return (tuple(cases), tuple(fixes), tuple(patrols), stops, tuple(map(tuple, alerts)), tuple(residents),
            tuple(visits))


class BriefingCache:
    """Memoises ``briefing()`` for past days; thread-safe, bounded, returns a private copy each time."""

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 64) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, tuple, dict[str, Any]]] = {}
        self.hits = self.misses = 0

    def get(self, session: Session, *, day: date, community_id: int | None = None,
            calendar: WorkCalendar | None = None, now: datetime | None = None) -> dict[str, Any]:
        """The briefing as ``briefing()`` would compute it now (a cached copy when nothing changed)."""
        now = now or utcnow()
        if local_day_bounds(day)[1] > now:  # today (or later): the cut-off moves, always compute
            return briefing(session, day=day, community_id=community_id, calendar=calendar, now=now)
        key, fp, mono = (day, community_id, id(calendar)), fingerprint(session, day), time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[1] == fp and mono - hit[0] < self.ttl_s:
                self.hits += 1
                return copy.deepcopy(hit[2])
            self.misses += 1
        b = briefing(session, day=day, community_id=community_id, calendar=calendar, now=now)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(min(self._entries, key=lambda k: self._entries[k][0]))
            self._entries[key] = (mono, fp, copy.deepcopy(b))
        return b
