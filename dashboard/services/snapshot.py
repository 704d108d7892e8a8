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

OPEN_STATES = [s.value for s in CaseState if s.is_open]


def snapshot(session: Session, *, community_id: int | None = None, now: datetime | None = None,
             max_cases: int = 500) -> dict[str, Any]:
    """Workers, open cases, open alerts and per-grid counts, plus the seq they reflect."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    seq = last_seq(session)  # read first: the transaction's view is at least this recent
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
    return {
        "seq": seq, "time": iso(now), "community_id": community_id,
        "worker_fields": ["worker_id", "lat", "lon", "state", "t", "grid_id"],
        "workers": workers, "cases": cases, "alerts": alerts,
        "open_by_grid": {str(k): v for k, v in open_by_grid.items()
                         if community_id is None or (k in grids and grids[k].community_id == community_id)},
        "day": {"start": iso(start), "end": iso(end)},
    }
