"""Today's figures for the wall: counters, categories, hourly curve, community ranking, per-grid measures.

Everything is computed in bulk: one query per table slice, then pandas. Definitions:

- reported: cases created today (local day, Asia/Shanghai); onsite: of those, handled on the spot
  (就地处置); escalated: of those, not handled on the spot (上报 to the center);
- dispatched: cases first dispatched today; closed: cases closed today (on the spot or after the check);
- in_progress: open cases now in dispatched / handling / feedback; overdue: open cases past their SLA;
- 自行处置率 (self_rate) = onsite / reported; 按期结案率 (ontime_rate) = cases closed today whose SLA
  ran and that closed by it, over those plus open cases whose SLA fell due today — None when nothing was due.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..events import last_seq, to_message
from ..models import Case, CaseState, Category, Community, Event, Grid, Worker
from ..models.enums import DutyState
from ..timeutil import SHANGHAI, as_utc, iso, local_day_bounds, local_today, utcnow

OPEN_STATES = [s.value for s in CaseState if s.is_open]
IN_PROGRESS = [CaseState.DISPATCHED.value, CaseState.HANDLING.value, CaseState.FEEDBACK.value]
CASE_COLUMNS = ["id", "grid_id", "community_id", "state", "handled_onsite", "created_at", "dispatched_at",
                "sla_due_at", "closed_at", "major"]


def _utc(col: pd.Series) -> pd.Series:
    """A datetime column as tz-aware UTC (SQLite hands back naive values)."""
    col = pd.to_datetime(col)
    return col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")


def case_frame(session: Session, since: datetime, community_id: int | None = None) -> pd.DataFrame:
    """Cases touched since ``since`` or still open (of one community if given), in one query."""
    q = (select(Case.id, Case.grid_id, Case.community_id, Case.state, Case.handled_onsite, Case.created_at,
                Case.dispatched_at, Case.sla_due_at, Case.closed_at, Category.major_name.label("major"))
         .join(Category, Category.code == Case.category_code)
         .where(or_(Case.created_at >= since, Case.closed_at >= since, Case.dispatched_at >= since,
                    Case.state.in_(OPEN_STATES))))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    df = pd.DataFrame(session.execute(q).all(), columns=CASE_COLUMNS)
    for c in ("created_at", "dispatched_at", "sla_due_at", "closed_at"):
        df[c] = _utc(df[c]) if len(df) else pd.Series(dtype="datetime64[ns, UTC]")
    return df


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def counters(df: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp) -> dict[str, Any]:
    """The KPI tiles of today."""
    today = df[(df.created_at >= start) & (df.created_at < end)]
    open_ = df[df.state.isin(OPEN_STATES)]
    closed = df[(df.closed_at >= start) & (df.closed_at < end) & (df.state == CaseState.CLOSED.value)]
    with_sla = closed[closed.sla_due_at.notna()]
    on_time = int((with_sla.closed_at <= with_sla.sla_due_at).sum())
    due_open = int(((open_.sla_due_at >= start) & (open_.sla_due_at < now)).sum())
    reported, onsite = len(today), int(today.handled_onsite.astype(bool).sum())
    return {
        "reported": reported, "onsite": onsite, "escalated": reported - onsite,
        "dispatched": int(((df.dispatched_at >= start) & (df.dispatched_at < end)).sum()),
        "in_progress": int(open_.state.isin(IN_PROGRESS).sum()),
        "closed": len(closed),
        "overdue": int((open_.sla_due_at.notna() & (open_.sla_due_at < now)).sum()),
        "self_rate": _rate(onsite, reported),
        "ontime_rate": _rate(on_time, len(with_sla) + due_open),
    }


def hourly(df: pd.DataFrame, start: pd.Timestamp) -> dict[str, list[int]]:
    """Cases reported per local hour, today and yesterday (24 values each)."""
    out = {}
    for name, s in (("today", start), ("yesterday", start - pd.Timedelta(days=1))):
        day = df[(df.created_at >= s) & (df.created_at < s + pd.Timedelta(days=1))]
        hours = day.created_at.dt.tz_convert(SHANGHAI).dt.hour
        out[name] = [int(v) for v in hours.value_counts().reindex(range(24), fill_value=0).sort_index()]
    return out


def wall_stats(session: Session, *, now: datetime | None = None, community_id: int | None = None) -> dict[str, Any]:
    """Everything the wall's panels show that is not in the live snapshot.

    With ``community_id`` every figure is that community's: its cases, its workers (by home grid, seen in
    its grids), and a ranking of one — a community's wall shows nothing of its neighbours.
    """
    now = as_utc(now or utcnow())
    seq = last_seq(session)  # read first: the figures below are at least this recent
    start_dt, end_dt = local_day_bounds(local_today(now))
    start, end, ts_now = pd.Timestamp(start_dt), pd.Timestamp(end_dt), pd.Timestamp(now)
    df = case_frame(session, start_dt - timedelta(days=1), community_id)
    today = df[(df.created_at >= start) & (df.created_at < end)]
    open_ = df[df.state.isin(OPEN_STATES)]
    by_cat = today.groupby("major").size().sort_values(ascending=False)
    cq = select(Community.id, Community.name).order_by(Community.code)
    wq = select(Worker.duty_state, Worker.last_grid_id).where(Worker.active.is_(True))
    if community_id is not None:
        own_grids = select(Grid.id).where(Grid.community_id == community_id)
        cq = cq.where(Community.id == community_id)
        wq = wq.where(Worker.grid_id.in_(own_grids))
    comms = pd.DataFrame(session.execute(cq).all(), columns=["id", "name"]).set_index("id")
    closed_today = df[(df.closed_at >= start) & (df.closed_at < end) & (df.state == CaseState.CLOSED.value)]
    comms["reported"] = today.groupby("community_id").size()
    comms["open"] = open_.groupby("community_id").size()
    comms["closed"] = closed_today.groupby("community_id").size()
    comms = comms.fillna(0).astype({"reported": int, "open": int, "closed": int})
    comms = comms.sort_values(["reported", "open"], ascending=False)
    workers = pd.DataFrame(session.execute(wq).all(), columns=["state", "grid_id"])
    present = workers[(workers.state != DutyState.OFFLINE.value) & workers.grid_id.notna()]
    if community_id is not None:  # its workers standing across the border are not counted on a neighbour's grid
        present = present[present.grid_id.isin(set(session.scalars(own_grids)))]
    return {
        "seq": seq, "time": iso(now), "day": {"start": iso(start_dt), "end": iso(end_dt)},
        "counters": {**counters(df, start, end, ts_now),
                     "on_duty": int((workers.state != DutyState.OFFLINE.value).sum()),
                     "patrolling": int((workers.state == DutyState.PATROLLING.value).sum())},
        "by_category": [{"name": str(k), "count": int(v)} for k, v in by_cat.items()],
        "hourly": hourly(df, start),
        "ranking": [{"community_id": int(i), "name": r["name"], "reported": int(r["reported"]),
                     "open": int(r["open"]), "closed": int(r["closed"])} for i, r in comms.iterrows()],
        "grids": {
            "open": {str(int(k)): int(v) for k, v in open_.groupby("grid_id").size().items()},
            "today": {str(int(k)): int(v) for k, v in today.groupby("grid_id").size().items()},
            "workers": {str(int(k)): int(v) for k, v in present.groupby("grid_id").size().items()},
        },
    }


def recent_events(session: Session, n: int = 30, *, community_id: int | None = None) -> list[dict[str, Any]]:
    """The newest case and alert events (the ticker a wall starts with), newest first; with ``community_id``
    only that community's and street-wide ones, as its socket room receives."""
    q = select(Event).where(Event.type.in_(["case", "alert"]))
    if community_id is not None:
        q = q.where((Event.community_id == community_id) | Event.community_id.is_(None))
    return [to_message(e) for e in session.scalars(q.order_by(Event.seq.desc()).limit(n))]


def grid_ids(session: Session) -> list[int]:
    """Every grid id, in a stable order (the order of the map's grid layer)."""
    return list(session.scalars(select(Grid.id).order_by(Grid.id)))
