"""What a grid worker's phone may read of the live picture: itself, its own reports and tasks, its own alerts.

A worker key is a credential carried on a phone in the street: if it leaks, it must not show the street's
490 live positions, every case or every photo. The snapshot and the event log a worker reads go through here
(``Principal.scope == "worker"``); a key linked to no worker (``worker_id`` None) reads nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from ..events import last_seq
from ..models import Alert, AlertState, Case, Grid, Worker
from ..timeutil import iso, local_day_bounds, local_today, utcnow
from .alerts import alert_public
from .cases import case_public
from .snapshot import OPEN_STATES

WORKER_FIELDS = ["worker_id", "lat", "lon", "state", "t", "grid_id"]


def _own_cases(worker_id: int):
    return or_(Case.reporter_worker_id == worker_id, Case.assigned_worker_id == worker_id)


def worker_snapshot(session: Session, *, worker_id: int | None, now: datetime | None = None) -> dict[str, Any]:
    """The snapshot a worker's phone starts from: its own row, open cases and open alerts only."""
    now = now or utcnow()
    seq = last_seq(session)
    workers, cases, alerts = [], [], []
    if worker_id is not None:
        w = session.get(Worker, worker_id)
        if w is not None:
            workers = [[w.id, w.last_lat, w.last_lon, w.duty_state, iso(w.last_fix_at), w.last_grid_id]]
            names = {w.id: w.name}
            grids = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(
                select(Case.grid_id).where(_own_cases(worker_id)))))}
            cases = [case_public(c, grid=grids.get(c.grid_id or 0), worker_names=names) for c in session.scalars(
                select(Case).where(_own_cases(worker_id), Case.state.in_(OPEN_STATES))
                .order_by(Case.created_at.desc()).limit(500).options(selectinload(Case.category),
                                                                      selectinload(Case.photos)))]
            alerts = [alert_public(a, w.name) for a in session.scalars(select(Alert).where(
                Alert.worker_id == worker_id, Alert.state != AlertState.RESOLVED, Alert.channel == "actual"))]
    start, end = local_day_bounds(local_today(now))
    return {"seq": seq, "time": iso(now), "community_id": None, "worker_fields": WORKER_FIELDS,
            "workers": workers, "cases": cases, "alerts": alerts, "open_by_grid": {},
            "day": {"start": iso(start), "end": iso(end)}}


def own_case_workers(session: Session, case_ids: set[int]) -> dict[int, tuple[int, ...]]:
    """Case id → the workers it is about (its reporter and its assignee), for the cases named."""
    rows = session.execute(select(Case.id, Case.reporter_worker_id, Case.assigned_worker_id).where(
        Case.id.in_(case_ids)))
    return {cid: tuple({w for w in (rep, asg) if w is not None}) for cid, rep, asg in rows}


def worker_messages(session: Session, messages: list[dict[str, Any]], worker_id: int | None) -> list[dict[str, Any]]:
    """Of the event log's messages, those about this worker: its cases, its alerts, its duty state and its own
    fixes (a positions frame cut to its row). Everything else (other workers, tours, devices …) is left out."""
    if worker_id is None:
        return []
    case_ids = {m["payload"].get("case", {}).get("id") for m in messages if m["type"] == "case"}
    case_ids.discard(None)
    own = set(session.scalars(select(Case.id).where(Case.id.in_(case_ids), _own_cases(worker_id)))) \
        if case_ids else set()
    out = []
    for m in messages:
        payload, kind = m["payload"], m["type"]
        if kind == "case" and payload.get("case", {}).get("id") in own:
            out.append(m)
        elif kind == "alert" and payload.get("alert", {}).get("worker_id") == worker_id:
            out.append(m)
        elif kind == "worker" and payload.get("worker", {}).get("id") == worker_id:
            out.append(m)
        elif kind == "positions":
            rows = [r for r in payload.get("workers", []) if r and r[0] == worker_id]
            if rows:
                out.append({**m, "payload": {**payload, "workers": rows}})
    return out
