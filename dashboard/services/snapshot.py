"""The snapshot a screen starts from, taken together with the seq it is valid at."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..events import last_seq
from ..models import Alert, AlertState, Case, CaseState, Grid, Worker
from ..timeutil import iso, local_day_bounds, local_today, utcnow
from .alerts import alert_public
from .cases import case_public
from .wall_scope import is_wide

OPEN_STATES = [s.value for s in CaseState if s.is_open]
WIDE_CASES = 200  # a district's or city's wall starts with the newest 200 open cases (a street's with 500)


def snapshot(session: Session, *, community_id: int | None = None, now: datetime | None = None,
             max_cases: int = 500, view: str | None = None) -> dict[str, Any]:
    """Workers, open cases, open alerts and per-grid counts, plus the seq they reflect.

    ``view="wall"``: what a wall starts from. A street's is the same, with the true number of open alerts
    (``alerts_open``); a wide one's (a district or a city, ``wall_scope.is_wide``) has no per-worker or per-grid
    detail (the wall asks for the grids and workers of its view when it zooms in; its per-community counts are in
    the wall's figures, /api/v1/wall/stats, refetched when the snapshot is newer), and the newest 200 cases."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    seq = last_seq(session)  # read first: the transaction's view is at least this recent
    if view == "wall" and is_wide(session, community_id):
        return _wide(session, seq, community_id, now, min(max_cases, WIDE_CASES))
    # columns, not ORM objects: a wall's cold load waits for this (301 grids with their geometry and 490 workers
    # as objects, and each case's category and photos loaded one case at a time, took ~0.1–0.9 s)
    grids = {g.id: g for g in session.execute(select(Grid.id, Grid.code, Grid.name, Grid.community_id))}
    names = dict(session.execute(select(Worker.id, Worker.name)).all())
    wq = select(Worker.id, Worker.last_lat, Worker.last_lon, Worker.duty_state, Worker.last_fix_at,
                Worker.last_grid_id).where(Worker.active.is_(True))
    if community_id is not None:
        wq = wq.join(Grid, Grid.id == Worker.grid_id).where(Grid.community_id == community_id)
    workers = [[wid, lat, lon, state, iso(fix), grid] for wid, lat, lon, state, fix, grid in session.execute(wq)]
    cq = (select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.created_at.desc()).limit(max_cases)
          .options(selectinload(Case.category), selectinload(Case.photos)))
    aq = select(Alert).where(Alert.state != AlertState.RESOLVED, Alert.channel == "actual").order_by(
        Alert.created_at.desc()).limit(200)
    if community_id is not None:
        cq = cq.where(Case.community_id == community_id)
        aq = aq.where((Alert.community_id == community_id) | (Alert.community_id.is_(None)))
    cases = [case_public(c, grid=grids.get(c.grid_id), worker_names=names) for c in session.scalars(cq)]
    alerts = [alert_public(a, names.get(a.worker_id)) for a in session.scalars(aq)]
    open_by_grid = dict(session.execute(select(Case.grid_id, func.count()).where(
        Case.state.in_(OPEN_STATES), Case.grid_id.is_not(None)).group_by(Case.grid_id)).all())
    start, end = local_day_bounds(local_today(now))
    extra = {"alerts_open": _alerts_open(session, community_id)} if view == "wall" else {}
    return {
        **extra,
        "seq": seq, "time": iso(now), "community_id": community_id,
        "worker_fields": ["worker_id", "lat", "lon", "state", "t", "grid_id"],
        "workers": workers, "cases": cases, "alerts": alerts,
        "open_by_grid": {str(k): v for k, v in open_by_grid.items()
                         if community_id is None or (k in grids and grids[k].community_id == community_id)},
        "day": {"start": iso(start), "end": iso(end)},
    }


def _alerts_query(community_id: int | None):
    aq = select(Alert).where(Alert.state != AlertState.RESOLVED, Alert.channel == "actual")
    if community_id is not None:
        aq = aq.where((Alert.community_id == community_id) | (Alert.community_id.is_(None)))
    return aq


def _alerts_open(session: Session, community_id: int | None) -> int:
    """Every open alert in scope (the panel says how many more than it shows, not how many more it was sent)."""
    return int(session.scalar(select(func.count()).select_from(_alerts_query(community_id).subquery())) or 0)


def _wide(session: Session, seq: int, community_id: int | None, now: datetime, max_cases: int) -> dict[str, Any]:
    """A district's or a city's wall snapshot: the newest open cases and alerts, counts per community."""
    cq = (select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.created_at.desc()).limit(max_cases)
          .options(selectinload(Case.category), selectinload(Case.photos)))
    if community_id is not None:
        cq = cq.where(Case.community_id == community_id)
    cases = list(session.scalars(cq))
    aq = _alerts_query(community_id).order_by(Alert.created_at.desc()).limit(200)
    alerts = list(session.scalars(aq))
    gids = {c.grid_id for c in cases if c.grid_id is not None}
    grids = {g.id: g for g in session.execute(select(Grid.id, Grid.code, Grid.name, Grid.community_id)
                                              .where(Grid.id.in_(gids)))} if gids else {}
    wids = {w for c in cases for w in (c.reporter_worker_id, c.assigned_worker_id) if w} | {
        a.worker_id for a in alerts if a.worker_id}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(wids))).all()) if wids else {}
    start, end = local_day_bounds(local_today(now))
    return {
        "seq": seq, "time": iso(now), "community_id": community_id, "wide": True,
        "worker_fields": ["worker_id", "lat", "lon", "state", "t", "grid_id"], "workers": [],
        "cases": [_slim(case_public(c, grid=grids.get(c.grid_id), worker_names=names)) for c in cases],
        "alerts": [alert_public(a, names.get(a.worker_id)) for a in alerts],
        "alerts_open": _alerts_open(session, community_id),
        "open_by_grid": {},
        "day": {"start": iso(start), "end": iso(end)},
    }


# what a wall keeps of a case (30-wall.js slimCase): a wide wall's snapshot sends no more
WALL_CASE_FIELDS = ("id", "code", "state", "priority", "lat", "lon", "grid_id", "community_id", "grid_name", "major",
                    "category", "reporter", "assigned_worker", "created_at", "handled_onsite")


def _slim(c: dict[str, Any]) -> dict[str, Any]:
    out = {k: c[k] for k in WALL_CASE_FIELDS if c.get(k) is not None}
    out["description"] = (c.get("description") or "")[:40]
    return out
