"""Today's figures for the wall: counters, categories, hourly curve, community ranking, per-grid measures.

Counted by the database: one grouped query (cases touched since yesterday or still open, per community, grid and
category, each figure a conditional sum), one for the hourly curve (a conditional sum per hour), one for the
workers; both case statements are built once. Every wall refetches these after case events (at most every 10 s
each: with ten walls up to a build a second). Read into pandas, a build took 25–45 ms of Python at 300–600
cases, growing with the day; counted here it takes ~8 ms at 600, most of it inside SQLite (which lets the
interpreter's other threads run).
Definitions:

- reported: cases created today (local day, Asia/Shanghai); onsite: of those, handled on the spot
  (就地处置); escalated: of those, not handled on the spot (上报 to the center);
- dispatched: cases first dispatched today; closed: cases closed today (on the spot or after the check);
- in_progress: open cases now in dispatched / handling / feedback; overdue: open cases past their SLA;
- 自行处置率 (self_rate) = onsite / reported; 按期结案率 (ontime_rate) = cases closed today whose SLA
  ran and that closed by it, over those plus open cases whose SLA fell due today — None when nothing was due.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, null, or_, select
from sqlalchemy.orm import Session

from ..events import last_seq, to_message
from ..models import Case, CaseState, Category, Community, Event, Grid, Worker
from ..models.enums import DutyState
from ..offload import turns
from ..timeutil import as_utc, iso, local_day_bounds, local_today, utcnow

OPEN_STATES = [s.value for s in CaseState if s.is_open]
IN_PROGRESS = [CaseState.DISPATCHED.value, CaseState.HANDLING.value, CaseState.FEEDBACK.value]
# the grouped query's figures, in its column order
FIGURES = ("today", "onsite", "dispatched", "open", "in_progress", "closed", "closed_sla", "on_time", "due_open",
           "overdue")


def _count(cond) -> Any:  # noqa: ANN001
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


@cache
def _groups_stmt(one_community: bool, by_grid: bool = True) -> Select:
    """The grouped query, built once (its 13 conditional sums took longer to build than to run); without
    ``by_grid`` (a wide wall: its grids' figures come with its view) per community and category only."""
    start, end, now, since = (bindparam(k) for k in ("start", "end", "now", "since"))
    is_open = Case.state.in_(OPEN_STATES)
    closed = and_(Case.closed_at >= start, Case.closed_at < end, Case.state == CaseState.CLOSED.value)
    today = and_(Case.created_at >= start, Case.created_at < end)
    grid = Case.grid_id if by_grid else null().label("grid_id")
    q = (select(Case.community_id, grid, Category.major_name,
                _count(today), _count(and_(today, Case.handled_onsite.is_(True))),
                _count(and_(Case.dispatched_at >= start, Case.dispatched_at < end)),
                _count(is_open), _count(and_(is_open, Case.state.in_(IN_PROGRESS))),
                _count(closed), _count(and_(closed, Case.sla_due_at.is_not(None))),
                _count(and_(closed, Case.sla_due_at.is_not(None), Case.closed_at <= Case.sla_due_at)),
                _count(and_(is_open, Case.sla_due_at >= start, Case.sla_due_at < now)),
                _count(and_(is_open, Case.sla_due_at.is_not(None), Case.sla_due_at < now)))
         .join(Category, Category.code == Case.category_code)
         .where(or_(Case.created_at >= since, Case.closed_at >= since, Case.dispatched_at >= since, is_open))
         .group_by(*((Case.community_id, Case.grid_id, Category.major_name) if by_grid else
                     (Case.community_id, Category.major_name))))
    return q.where(Case.community_id == bindparam("community")) if one_community else q


def case_groups(session: Session, start: datetime, end: datetime, now: datetime,
                community_id: int | None = None, by_grid: bool = True) -> list[tuple]:
    """(community_id, grid_id, major, *FIGURES) for the cases touched since the day before ``start`` or still
    open (of one community if given)."""
    params = {"start": start, "end": end, "now": now, "since": start - timedelta(days=1), "community": community_id}
    return [tuple(r) for r in session.execute(_groups_stmt(community_id is not None, by_grid), params)]


def counters(groups: list[tuple]) -> dict[str, Any]:
    """The KPI tiles of today, from ``case_groups``."""
    t = dict(zip(FIGURES, (sum(col) for col in zip(*(g[3:] for g in groups))))) if groups else \
        dict.fromkeys(FIGURES, 0)
    reported, onsite = t["today"], t["onsite"]
    return {
        "reported": reported, "onsite": onsite, "escalated": reported - onsite,
        "dispatched": t["dispatched"], "in_progress": t["in_progress"], "closed": t["closed"],
        "overdue": t["overdue"], "self_rate": _rate(onsite, reported),
        "ontime_rate": _rate(t["on_time"], t["closed_sla"] + t["due_open"]),
    }


@cache
def _hourly_stmt(one_community: bool) -> Select:
    """48 conditional sums, one per hour of yesterday and today (built once)."""
    edges = [bindparam(f"h{i}") for i in range(49)]
    q = select(*(_count(and_(Case.created_at >= a, Case.created_at < b)) for a, b in zip(edges, edges[1:]))) \
        .where(Case.created_at >= edges[0], Case.created_at < edges[-1])
    return q.where(Case.community_id == bindparam("community")) if one_community else q


def hourly(session: Session, start: datetime, community_id: int | None = None) -> dict[str, list[int]]:
    """Cases reported per local hour, today and yesterday (24 values each)."""
    params = {f"h{i}": start + timedelta(hours=i - 24) for i in range(49)}
    row = [int(v) for v in session.execute(_hourly_stmt(community_id is not None),
                                           {**params, "community": community_id}).one()]
    return {"today": row[24:], "yesterday": row[:24]}


def wall_stats(session: Session, *, now: datetime | None = None, community_id: int | None = None,
               wide: bool | None = None) -> dict[str, Any]:
    """Everything the wall's panels show that is not in the live snapshot.

    With ``community_id`` every figure is that community's: its cases, its workers (by home grid, seen in
    its grids), and a ranking of one — a community's wall shows nothing of its neighbours.
    A wide wall's (a district or a city, ``wall_scope.is_wide``; decided from the data unless ``wide`` is given)
    per-grid maps are empty and ``communities`` holds the same measures per community, and its ranking the top 20:
    the grids of its view come with their counts from /api/v1/wall/grids.
    """
    if wide is None:
        from .wall_scope import is_wide

        wide = is_wide(session, community_id)
    now = as_utc(now or utcnow())
    seq = last_seq(session)  # read first: the figures below are at least this recent
    start, end = local_day_bounds(local_today(now))
    groups = case_groups(session, start, end, now, community_id, by_grid=not wide)
    today, open_, closed = (FIGURES.index(k) + 3 for k in ("today", "open", "closed"))
    by_cat: Counter = Counter()
    by_comm: dict[int, list[int]] = {}
    grid_open: Counter = Counter()
    grid_today: Counter = Counter()
    for g in turns(groups):
        comm, grid, major = g[:3]
        by_cat[major] += g[today]
        if comm is not None:
            r = by_comm.setdefault(comm, [0, 0, 0])
            r[0] += g[today]; r[1] += g[open_]; r[2] += g[closed]  # noqa: E702
        if grid is not None:
            grid_open[grid] += g[open_]
            grid_today[grid] += g[today]
    cq = select(Community.id, Community.name).order_by(Community.code)
    wq = select(Worker.duty_state, Worker.last_grid_id).where(Worker.active.is_(True))
    own: set[int] | None = None
    if community_id is not None:
        own_grids = select(Grid.id).where(Grid.community_id == community_id)
        cq = cq.where(Community.id == community_id)
        wq = wq.where(Worker.grid_id.in_(own_grids))
        own = set(session.scalars(own_grids))
    ranking = []
    for cid, name in session.execute(cq):
        reported, open_n, closed_n = by_comm.get(cid, (0, 0, 0))
        ranking.append({"community_id": cid, "name": name, "reported": reported, "open": open_n, "closed": closed_n})
    ranking.sort(key=lambda r: (-r["reported"], -r["open"]))  # stable: ties keep the communities' code order
    workers = list(turns(session.execute(wq.execution_options(yield_per=500))))  # 20,000 on a city
    offline, patrolling = DutyState.OFFLINE.value, DutyState.PATROLLING.value
    # a community's workers standing across the border are not counted on a neighbour's grid
    present = Counter(g for st, g in workers if st != offline and g is not None and (own is None or g in own))
    grids_out = {"open": {str(k): v for k, v in grid_open.items() if v},
                 "today": {str(k): v for k, v in grid_today.items() if v},
                 "workers": {str(k): v for k, v in present.items()}}
    extra: dict[str, Any] = {}
    if wide:
        comm_of = dict(turns(session.execute(select(Grid.id, Grid.community_id).execution_options(yield_per=500))))
        by_comm_workers: Counter = Counter()
        for g, n in present.items():
            if comm_of.get(g) is not None:
                by_comm_workers[comm_of[g]] += n
        extra["communities"] = {"open": {str(k): v[1] for k, v in by_comm.items() if v[1]},
                                "today": {str(k): v[0] for k, v in by_comm.items() if v[0]},
                                "workers": {str(k): v for k, v in by_comm_workers.items() if v}}
        grids_out = {"open": {}, "today": {}, "workers": {}}
        ranking = ranking[:20]
    return {
        **extra, "wide": bool(wide),
        "seq": seq, "time": iso(now), "day": {"start": iso(start), "end": iso(end)},
        "counters": {**counters(groups),
                     "on_duty": sum(st != offline for st, _ in workers),
                     "patrolling": sum(st == patrolling for st, _ in workers)},
        "by_category": [{"name": k, "count": v} for k, v in sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))
                        if v],
        "hourly": hourly(session, start, community_id),
        "ranking": ranking,
        "grids": grids_out,
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
