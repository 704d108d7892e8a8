"""Grids as geometry: the locator that assigns points to grids, and GeoJSON out."""
from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
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
