"""Grids as geometry: the locator that assigns points to grids, and GeoJSON out."""
from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..geo.locate import GridLocator
from ..models import Community, Grid


def load_locator(session: Session) -> GridLocator | None:
    """A locator over every grid in the database (None when there are no grids)."""
    rows = session.execute(select(Grid.id, Grid.boundary).order_by(Grid.id)).all()
    if not rows:
        return None
    return GridLocator([r.id for r in rows], [shape(r.boundary) for r in rows])


def grid_community_map(session: Session) -> dict[int, int]:
    """grid id → community id, for scoping events without a query per row."""
    return dict(session.execute(select(Grid.id, Grid.community_id)).all())


def grids_geojson(session: Session, community_id: int | None = None) -> dict[str, Any]:
    """All grids (optionally of one community) as a GeoJSON FeatureCollection."""
    q = select(Grid, Community.code, Community.name).join(Community).order_by(Grid.code)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    features = [
        {
            "type": "Feature",
            "id": g.id,
            "properties": {"id": g.id, "code": g.code, "name": g.name, "community_id": g.community_id,
                           "community_code": ccode, "community_name": cname, "area_m2": round(g.area_m2, 1)},
            "geometry": g.boundary,
        }
        for g, ccode, cname in session.execute(q).all()
    ]
    return {"type": "FeatureCollection", "features": features}


def open_cases_by_grid(session: Session, *, community_id: int | None) -> dict[int, int]:
    """grid id → open cases in it, for the caller's jurisdiction (``community_id`` None = the whole street)."""
    from ..models import Case, CaseState

    q = select(Case.grid_id, func.count()).where(Case.state.in_([s.value for s in CaseState if s.is_open]),
                                                 Case.grid_id.is_not(None))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    return {gid: int(n) for gid, n in session.execute(q.group_by(Case.grid_id)).all() if gid is not None}


def jurisdiction_choices(session: Session, *, community_id: int | None) -> tuple[list[Any], list[Any]]:
    """(communities, grids) as rows with ``id`` and ``name`` (grids also ``community_id``), in code order: the
    caller's own community and its grids, or all."""
    cq = select(Community.id, Community.name).order_by(Community.code)
    gq = select(Grid.id, Grid.name, Grid.community_id).order_by(Grid.code)
    if community_id is not None:
        cq, gq = cq.where(Community.id == community_id), gq.where(Grid.community_id == community_id)
    return list(session.execute(cq).all()), list(session.execute(gq).all())


def grid_outlines(session: Session, *, community_id: int | None = None) -> list[Any]:
    """Rows of (boundary GeoJSON, centroid_lat, centroid_lon) of the grids in the caller's jurisdiction, in id order."""
    q = select(Grid.boundary, Grid.centroid_lat, Grid.centroid_lon).order_by(Grid.id)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return list(session.execute(q).all())


def grid_codes(session: Session, *, community_id: int | None) -> list[tuple[str, str]]:
    """(code, name) of the grids in the caller's jurisdiction, in code order."""
    q = select(Grid.code, Grid.name).order_by(Grid.code)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return [(c, n) for c, n in session.execute(q).all()]


def worker_grid_code(session: Session, worker_id: int) -> str | None:
    """The code of the grid worker ``worker_id`` belongs to (None without one)."""
    from ..models import Worker

    return session.scalar(select(Grid.code).join(Worker, Worker.grid_id == Grid.id).where(Worker.id == worker_id))
