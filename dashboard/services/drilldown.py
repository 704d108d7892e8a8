"""Grid drill-down (人地事物情组织): one grid's register, personal data masked on the server.

Two scopes: ``console`` and ``wall``. Both mask every name and phone and give residents
as counts only; the wall scope also leaves out case reporters, so a screen in the hall
never shows who reported what.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..masking import mask_name, mask_phone
from ..models import (Camera, Case, CaseState, Community, Contact, Grid, Organisation, Place, Position,
                      ResidentCount, Worker, WorkerGrid)
from ..timeutil import iso, local_day_bounds, local_today, utcnow
from .cases import case_public

OPEN_STATES = [s.value for s in CaseState if s.is_open]
SCOPES = ("console", "wall")
RESIDENT_TOTAL = ("户籍人口", "流动人口", "境外人员")  # 实有人口; the other categories are subsets
CONTACT_LEVELS = ("street", "community", "compound", "building", "party_household")
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")  # a mobile number typed into a description
TRACK_POINTS = 200  # per worker: enough to draw today's walk, small enough for a wall


PLACE_ORDER = ("compound", "building", "shop", "business", "unit", "office")


def _kind_order(kind: str) -> tuple[int, str]:
    return (PLACE_ORDER.index(kind) if kind in PLACE_ORDER else len(PLACE_ORDER), kind)


def _thin(points: list[list[Any]], limit: int) -> list[list[Any]]:
    """Keep at most ``limit`` points, evenly spaced, always keeping the last."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    out = [points[int(i * step)] for i in range(limit - 1)]
    out.append(points[-1])
    return out


def grid_register(session: Session, grid_id: int, *, scope: str = "console", now: datetime | None = None,
                  recent_cases: int = 20) -> dict[str, Any] | None:
    """Everything the drill-down panel shows for one grid, or None if the grid does not exist."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    wall = scope == "wall"
    now = now or utcnow()
    grid = session.get(Grid, grid_id)
    if grid is None:
        return None
    comm = session.get(Community, grid.community_id)
    residents = {r.category: r.count for r in session.scalars(
        select(ResidentCount).where(ResidentCount.grid_id == grid_id).order_by(ResidentCount.category))}

    places = list(session.scalars(select(Place).where(Place.grid_id == grid_id).order_by(Place.kind, Place.code)))
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in places:
        by_kind[p.kind].append({"id": p.id, "kind": p.kind, "code": p.code, "name": p.name, "address": p.address,
                                "lat": p.lat, "lon": p.lon, "households": p.households, "floors": p.floors,
                                "parent_id": p.parent_id})

    start, end = local_day_bounds(local_today(now))
    workers = list(session.scalars(select(Worker).where(Worker.active.is_(True), or_(
        Worker.grid_id == grid_id,
        Worker.id.in_(select(WorkerGrid.worker_id).where(WorkerGrid.grid_id == grid_id)))).order_by(Worker.code)))
    names = {w.id: w.name for w in workers}
    tracks: dict[int, list[list[Any]]] = defaultdict(list)
    if workers:
        rows = session.execute(select(Position.worker_id, Position.fix_time, Position.lat, Position.lon).where(
            Position.worker_id.in_(list(names)), Position.fix_time >= start, Position.fix_time < end).order_by(
            Position.worker_id, Position.fix_time))
        for wid, t, lat, lon in rows:
            tracks[wid].append([round(lat, 6), round(lon, 6), iso(t)])

    open_cases = list(session.scalars(select(Case).where(Case.grid_id == grid_id, Case.state.in_(OPEN_STATES))
                                      .order_by(Case.created_at.desc()).limit(200)))
    recent = list(session.scalars(select(Case).where(Case.grid_id == grid_id).order_by(Case.created_at.desc())
                                  .limit(recent_cases)))
    case_workers = {i for c in open_cases + recent for i in (c.reporter_worker_id, c.assigned_worker_id) if i}
    missing = case_workers - set(names)
    if missing:
        names.update(dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(missing))).all()))

    def case_view(c: Case) -> dict[str, Any]:
        v = case_public(c, grid=grid, worker_names=names)
        if wall:  # a hall screen never shows who reported
            v.pop("reporter", None)
            v.pop("reporter_phone", None)
            v["description"] = PHONE_RE.sub(lambda m: mask_phone(m.group(0)) or "", v.get("description") or "")
        return v

    cameras = list(session.scalars(select(Camera).where(Camera.grid_id == grid_id).order_by(Camera.code)))
    orgs = list(session.scalars(select(Organisation).where(Organisation.grid_id == grid_id).order_by(Organisation.code)))
    contacts = list(session.scalars(select(Contact).where(or_(
        Contact.grid_id == grid_id, Contact.level == "street",
        (Contact.level == "community") & (Contact.community_id == grid.community_id) & Contact.grid_id.is_(None)))))
    contacts.sort(key=lambda c: (CONTACT_LEVELS.index(c.level) if c.level in CONTACT_LEVELS else 9, c.id))

    from .cameras import camera_public  # cameras imports nothing from here; keeps the two modules small

    return {
        "scope": scope,
        "grid": {"id": grid.id, "code": grid.code, "name": grid.name, "community_id": grid.community_id,
                 "community": comm.name if comm else None, "area_m2": round(grid.area_m2, 1),
                 "centroid": [grid.centroid_lat, grid.centroid_lon], "boundary": grid.boundary},
        "residents": {"total": sum(residents.get(k, 0) for k in RESIDENT_TOTAL), "by_category": residents},
        "places": {"counts": {k: len(v) for k, v in by_kind.items()},
                   "compounds": by_kind.get("compound", []), "buildings": by_kind.get("building", []),
                   "shops": by_kind.get("shop", []),
                   "units": by_kind.get("unit", []) + by_kind.get("office", []) + by_kind.get("business", []),
                   # every place of the grid, compounds first, then buildings, shops, companies …: what the panel lists
                   "all": [x for k in sorted(by_kind, key=_kind_order) for x in by_kind[k]]},
        "cases": {"open_count": len(open_cases), "open": [case_view(c) for c in open_cases],
                  "recent": [case_view(c) for c in recent]},
        "cameras": [camera_public(c) for c in cameras],
        "organisations": [{"id": o.id, "code": o.code, "name": o.name, "kind": o.kind, "brand": o.brand,
                           "members": o.members, "founded": o.founded} for o in orgs],
        "workers": [{"id": w.id, "code": w.code, "name": mask_name(w.name),
                     "phone": mask_phone(w.phone),
                     "role": w.role, "state": w.duty_state, "lat": w.last_lat, "lon": w.last_lon,
                     "last_fix_at": iso(w.last_fix_at), "battery": w.last_battery,
                     "track": _thin(tracks.get(w.id, []), TRACK_POINTS)} for w in workers],
        "contacts": [{"level": c.level, "title": c.title, "name": mask_name(c.name),
                      "phone": mask_phone(c.phone)} for c in contacts],
        "day": {"start": iso(start), "end": iso(end)},
    }
