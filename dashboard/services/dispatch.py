"""Dispatch: the nearest available workers for a case, and arrival detected from GPS."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..geo.distance import haversine_m
from ..masking import mask_name
from ..geo.locate import GridLocator
from ..models import Alert, AlertState, Case, CaseState, Dispatch, DutyState, Grid, Worker
from ..timeutil import iso, utcnow
from ..workcal import WorkCalendar
from .alerts import acknowledge as acknowledge_alert
from .cases import CaseError, CaseReport, IllegalTransition, report_case, transition

log = logging.getLogger(__name__)

ARRIVAL_RADIUS_M = 50.0
OPEN_DISPATCH = ("sent", "acknowledged", "arrived")
# how much farther a busy worker counts than a free one; offline workers are never recommended
STATE_FACTOR = {DutyState.AVAILABLE: 1.0, DutyState.PATROLLING: 1.0, DutyState.DISPATCHED: 2.5,
                DutyState.EN_ROUTE: 3.0, DutyState.ON_SCENE: 3.0, DutyState.HANDLING: 3.0}
LOAD_PENALTY_M = 300.0  # each open task adds this many metres to the ranking distance


def worker_loads(session: Session, worker_ids: list[int] | None = None) -> dict[int, int]:
    """Open dispatches per worker (one grouped query)."""
    q = select(Dispatch.worker_id, func.count()).where(Dispatch.state.in_(OPEN_DISPATCH),
                                                       Dispatch.worker_id.is_not(None)).group_by(Dispatch.worker_id)
    if worker_ids is not None:
        q = q.where(Dispatch.worker_id.in_(worker_ids))
    return dict(session.execute(q).all())


def nearest_available_workers(session: Session, lat: float, lon: float, *, limit: int = 5,
                              exclude: set[int] | None = None, community_id: int | None = None) -> list[dict[str, Any]]:
    """Workers on shift ranked by distance, weighted by duty state and current load (masked names).

    ``community_id`` limits them to that community's workers (by home grid): a community's operator
    neither sees nor dispatches another community's people, however near they are.
    """
    q = (select(Worker.id, Worker.code, Worker.name, Worker.duty_state, Worker.last_lat, Worker.last_lon,
                Worker.last_fix_at, Worker.grid_id, Grid.centroid_lat, Grid.centroid_lon)
         .outerjoin(Grid, Grid.id == Worker.grid_id)
         .where(Worker.active.is_(True), Worker.duty_state.in_(list(STATE_FACTOR))))
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    rows = session.execute(q).all()
    rows = [r for r in rows if not exclude or r.id not in exclude]
    rows = [r for r in rows if r.last_lat is not None or r.centroid_lat is not None]
    if not rows:
        return []
    has_fix = np.array([r.last_lat is not None for r in rows])
    lats = np.array([r.last_lat if r.last_lat is not None else r.centroid_lat for r in rows], dtype=float)
    lons = np.array([r.last_lon if r.last_lon is not None else r.centroid_lon for r in rows], dtype=float)
    dist = np.atleast_1d(haversine_m(lat, lon, lats, lons))
    loads = worker_loads(session, [r.id for r in rows])
    factor = np.array([STATE_FACTOR[r.duty_state] for r in rows])
    load = np.array([loads.get(r.id, 0) for r in rows])
    score = dist * factor + load * LOAD_PENALTY_M
    order = np.argsort(score, kind="stable")[:limit]
    return [{"worker_id": rows[i].id, "code": rows[i].code, "name": mask_name(rows[i].name),
             "state": rows[i].duty_state, "distance_m": round(float(dist[i]), 1), "load": int(load[i]),
             "score": round(float(score[i]), 1), "from_fix": bool(has_fix[i]), "grid_id": rows[i].grid_id,
             "lat": round(float(lats[i]), 6), "lon": round(float(lons[i]), 6),
             "last_fix_at": iso(rows[i].last_fix_at)} for i in order]


def recommend_for_case(session: Session, c: Case, *, limit: int = 5,
                       community_id: int | None = None) -> list[dict[str, Any]]:
    """Nearest available workers for a case (its location, or its grid's centre), of ``community_id`` if given."""
    lat, lon = c.lat, c.lon
    if lat is None and c.grid_id:
        g = session.get(Grid, c.grid_id)
        lat, lon = g.centroid_lat, g.centroid_lon
    if lat is None:
        return []
    return nearest_available_workers(session, lat, lon, limit=limit, community_id=community_id)


def detect_arrivals(session: Session, moved: list[dict[str, Any]], *, now: datetime | None = None,
                    radius_m: float = ARRIVAL_RADIUS_M) -> list[int]:
    """Mark 'arrive' on acknowledged dispatches whose worker's new fix is within ``radius_m`` of the case."""
    now = now or utcnow()
    pos = {m["worker_id"]: (m["lat"], m["lon"]) for m in moved}
    if not pos:
        return []
    # columns first: on most ticks no moved worker is on an acknowledged dispatch, or none is near yet. The
    # dispatches by worker first (their index), the cases only for those: one join let SQLite start from every
    # case in handling (a city's tens of thousands) and cost 35 ms a batch of fixes
    on_way = session.execute(select(Dispatch.case_id, Dispatch.worker_id).where(
        Dispatch.worker_id.in_(list(pos)), Dispatch.state == "acknowledged")).all()
    if not on_way:
        return []
    where = {cid: (clat, clon) for cid, clat, clon in session.execute(
        select(Case.id, Case.lat, Case.lon).where(Case.id.in_({cid for cid, _ in on_way}),
                                                  Case.state == CaseState.HANDLING, Case.lat.is_not(None))).all()}
    near = list(dict.fromkeys(cid for cid, wid in on_way
                              if cid in where and haversine_m(*pos[wid], *where[cid]) <= radius_m))
    arrived = []
    for cid in near:
        c = session.get(Case, cid)
        try:
            transition(session, c, "arrive", actor="GPS", note=f"到达现场（定位 {radius_m:.0f} 米内）", now=now)
            arrived.append(c.id)
        except IllegalTransition:
            log.debug("case %s: arrival not applicable", c.id)
    return arrived


def case_for_alert(session: Session, a: Alert, *, category_code: str | None, actor: str,
                   locator: GridLocator | None, now: datetime) -> Case:
    """The alert's case, opened by the operator from the alert when it has none yet."""
    if a.case_id:
        return session.get(Case, a.case_id)
    if not category_code:
        raise CaseError("category_code", "this alert has no case yet; choose a category for it")
    lat, lon = a.lat, a.lon
    if lat is None and a.grid_id:
        g = session.get(Grid, a.grid_id)
        lat, lon = g.centroid_lat, g.centroid_lon
    c, _ = report_case(session, CaseReport(category_code=category_code, description=a.title[:4000], lat=lat,
                                           lon=lon, source="operator", note=f"由告警 #{a.id} 生成"),
                       locator=locator, now=now, actor=actor)
    a.case_id = c.id
    return c


def dispatch_from_alert(session: Session, a: Alert, *, worker_id: int, actor: str, note: str = "",
                        category_code: str | None = None, calendar: WorkCalendar | None = None,
                        locator: GridLocator | None = None, now: datetime | None = None) -> Case:
    """One click on an alert: open its case if needed, dispatch it to a worker, acknowledge the alert."""
    now = now or utcnow()
    if a.state == AlertState.RESOLVED:
        raise IllegalTransition(f"alert {a.id} is resolved")
    if session.get(Worker, worker_id) is None:
        raise CaseError("worker_id", f"unknown worker {worker_id}")
    c = case_for_alert(session, a, category_code=category_code, actor=actor, locator=locator, now=now)
    action = "redispatch" if c.state in (CaseState.DISPATCHED, CaseState.HANDLING) else "dispatch"
    transition(session, c, action, actor=actor, note=note or f"告警派遣：{a.title[:100]}", worker_id=worker_id,
               calendar=calendar, now=now)
    if a.state == AlertState.NEW:
        acknowledge_alert(session, a, by=actor, comment=f"已派遣（案卷 {c.code}）", now=now)
    return c


def recommend_for_alert(session: Session, a: Alert, *, limit: int = 5,
                        community_id: int | None = None) -> list[dict[str, Any]]:
    """Nearest available workers for an alert's point (or its grid's centre), of ``community_id`` if given."""
    if a.case_id:
        return recommend_for_case(session, session.get(Case, a.case_id), limit=limit, community_id=community_id)
    lat, lon = a.lat, a.lon
    if lat is None and a.grid_id:
        g = session.get(Grid, a.grid_id)
        lat, lon = g.centroid_lat, g.centroid_lon
    if lat is None:
        return []
    return nearest_available_workers(session, lat, lon, limit=limit, community_id=community_id)
