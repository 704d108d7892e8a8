"""The snapshot a screen starts from, taken together with the seq it is valid at."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
    grid_comm = dict(session.execute(select(Grid.id, Grid.community_id)).all())
    grids = {gid: g for gid, g in session.execute(select(Grid.id, Grid)).all()}
    names = dict(session.execute(select(Worker.id, Worker.name)).all())
    wq = select(Worker).where(Worker.active.is_(True))
    if community_id is not None:
        wq = wq.join(Grid, Grid.id == Worker.grid_id).where(Grid.community_id == community_id)
    workers = []
    for w in session.scalars(wq):
        workers.append([w.id, w.last_lat, w.last_lon, w.duty_state, iso(w.last_fix_at), w.last_grid_id])
    cq = select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.created_at.desc()).limit(max_cases)
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
                         if community_id is None or grid_comm.get(k) == community_id},
        "day": {"start": iso(start), "end": iso(end)},
    }
