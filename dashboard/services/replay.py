"""Day replay: what happened on the map during one day, bucketed by minute for a slider.

Case steps come from the case timeline (``case_log``: the closed-loop log written in the same
transaction as each live ``case`` event, stamped with the domain time of the step), alerts from the
alert table, worker tracks from the positions table (one point per worker per ``track_s``).
The browser only indexes into these arrays as the slider moves: no request per step.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any, Callable

import pandas as pd
from sqlalchemy import select

from ..masking import mask_name, mask_text
from ..memo import Memo
from ..models import Alert, Case, CaseLog, Category, Grid, Position, Worker
from ..timeutil import iso, local_day_bounds, utcnow
from .name_index import known_names

STATES = ["reported", "registered", "dispatched", "handling", "feedback", "closed", "void"]
EVENT_KIND = {"report": "created", "onsite": "onsite", "dispatch": "dispatch", "redispatch": "dispatch",
              "approve": "closed"}
MAX_EVENTS = 3000


def _minutes(ts: pd.Series, start: pd.Timestamp) -> pd.Series:
    return ((ts - start).dt.total_seconds() // 60).astype(int)


def _case_steps(session, start, end, community_id: int | None) -> pd.DataFrame:
    q = select(CaseLog.case_id, CaseLog.at, CaseLog.action, CaseLog.from_state, CaseLog.to_state, CaseLog.id).join(
        Case, Case.id == CaseLog.case_id).where(CaseLog.at >= start, CaseLog.at < end, Case.merged_into_id.is_(None))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    df = pd.DataFrame(session.execute(q).all(), columns=["case_id", "at", "action", "from_state", "to_state", "id"])
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df.sort_values(["at", "id"])


def replay(session, *, day: date, community_id: int | None = None, track_s: int = 300,
           trail_min: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """The day's cases (state changes by minute), events to jump to, and worker tracks; ``until`` is the last
    minute the replay may show (today: now — it never plays into the future)."""
    start, end = local_day_bounds(day)
    now = now or utcnow()
    last = int((end - start).total_seconds() // 60) - 1
    until = last if now >= end else max(0, min(last, int((now - start).total_seconds() // 60)))
    s0 = pd.Timestamp(start)
    steps = _case_steps(session, start, end, community_id)
    ids = sorted(set(steps["case_id"].tolist()))
    cases_out: list[list[Any]] = []
    events: list[list[Any]] = []
    if ids:
        info = {r.id: r for r in session.execute(select(
            Case.id, Case.code, Case.lat, Case.lon, Case.grid_id, Category.name.label("category")).join(
            Category, Category.code == Case.category_code).where(Case.id.in_(ids)))}
        centroids = {g: (la, lo) for g, la, lo in session.execute(select(Grid.id, Grid.centroid_lat, Grid.centroid_lon)
                                                                 .where(Grid.id.in_({r.grid_id for r in info.values()})))}
        steps["m"] = _minutes(steps["at"], s0)
        steps = steps[steps["to_state"].notna()]
        for cid, g in steps.groupby("case_id", sort=True):
            r = info[cid]
            lat, lon = (r.lat, r.lon) if r.lat is not None else centroids.get(r.grid_id, (None, None))
            if lat is None:
                continue
            first = g.iloc[0]
            init = None if first["action"] == "report" else STATES.index(first["from_state"]) \
                if first["from_state"] in STATES else None
            cases_out.append([int(cid), r.code, round(lat, 6), round(lon, 6), r.category, init,
                              [[int(m), STATES.index(s)] for m, s in zip(g["m"], g["to_state"]) if s in STATES]])
        for row in steps.itertuples():
            kind = EVENT_KIND.get(row.action)
            if kind:
                r = info[row.case_id]
                events.append([int(row.m), kind, r.code, r.category, int(row.case_id)])
    aq = select(Alert.id, Alert.created_at, Alert.title, Alert.severity).where(
        Alert.created_at >= start, Alert.created_at < end, Alert.channel == "actual")
    if community_id is not None:
        aq = aq.where(Alert.community_id == community_id)
    known = known_names(session)
    for a in session.execute(aq):
        m = int((pd.Timestamp(a.created_at) - s0).total_seconds() // 60)
        events.append([m, "alert", str(a.id), mask_text(a.title, (), known), None])
    events.sort(key=lambda e: (e[0], e[2]))
    return {"day": day.isoformat(), "start": iso(start), "minutes": int((end - start).total_seconds() // 60),
            "until": until,
            "states": STATES, "case_fields": ["id", "code", "lat", "lon", "category", "init_state", "steps"],
            "cases": cases_out, "events": events[:MAX_EVENTS], "events_total": len(events),
            "track_s": track_s, "trail_min": trail_min,
            "workers": _tracks(session, start, end, s0, community_id, track_s)}


def _tracks(session, start, end, s0: pd.Timestamp, community_id: int | None, track_s: int) -> dict[str, Any]:
    """Per worker: minutes, lats, lons — the last fix of each ``track_s`` slice."""
    q = select(Position.worker_id, Position.fix_time, Position.lat, Position.lon).where(
        Position.fix_time >= start, Position.fix_time < end)
    if community_id is not None:
        scope = select(Grid.id).where(Grid.community_id == community_id)
        q = q.join(Worker, Worker.id == Position.worker_id).where(Worker.grid_id.in_(scope))
    df = pd.DataFrame(session.execute(q).all(), columns=["worker_id", "fix_time", "lat", "lon"])
    out: dict[str, Any] = {"ids": [], "names": [], "t": [], "lat": [], "lon": []}
    if df.empty:
        return out
    df["fix_time"] = pd.to_datetime(df["fix_time"], utc=True)
    secs = (df["fix_time"] - s0).dt.total_seconds()
    df["slot"] = (secs // track_s).astype(int)
    df["m"] = (secs // 60).astype(int)
    df = df.sort_values(["worker_id", "fix_time"]).drop_duplicates(["worker_id", "slot"], keep="last")
    names = dict(session.execute(select(Worker.id, Worker.name).where(
        Worker.id.in_(df["worker_id"].unique().tolist()))).all())
    for wid, g in df.groupby("worker_id", sort=True):
        out["ids"].append(int(wid))
        out["names"].append(mask_name(names.get(wid)))
        out["t"].append(g["m"].tolist())
        out["lat"].append(g["lat"].round(6).tolist())
        out["lon"].append(g["lon"].round(6).tolist())
    return out


class ReplayCache:
    """A day's replay kept by (day, community) in this process: a busy day is ~250k fixes and seconds of pandas.

    A day that ended more than ``settle`` ago does not change (late fixes arrive within minutes), so its replay is
    kept until evicted; today's (or a day still settling) is rebuilt after ``today_ttl_s``. At most
    ``max_entries`` days × scopes are kept (the oldest half goes when full): a replay is a few MB. One build per
    key at a time: concurrent callers of the same day wait for it (``Memo``). Values are shared: never mutate.
    """

    def __init__(self, max_entries: int = 8, today_ttl_s: float = 60.0, settle: timedelta = timedelta(minutes=15)):
        self._memo = Memo(max_entries=max_entries)
        self.today_ttl_s, self.settle = today_ttl_s, settle

    def get(self, read: Callable, *, day: date, community_id: int | None, now: datetime | None = None) -> dict:
        """The replay of ``day`` in a scope; ``read`` opens a read session (``services.db.read``) on a miss."""
        _, end = local_day_bounds(day)
        ttl = math.inf if (now or utcnow()) >= end + self.settle else self.today_ttl_s

        def build() -> dict:
            with read() as s:
                return replay(s, day=day, community_id=community_id, now=now)

        return self._memo.get((day, community_id), ttl, build)

    @property
    def hits(self) -> int:
        return self._memo.hits

    @property
    def misses(self) -> int:
        return self._memo.misses
