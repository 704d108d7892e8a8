"""What the wall's base map draws, read in one place: grids, community outlines, cameras, the street's centre."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Camera, Community, Grid


@dataclass(frozen=True)
class WallMapLayers:
    grids: list[Any]                         # rows: id, code, name, boundary (GeoJSON), in id order
    community_boundaries: list[dict]         # GeoJSON geometries, in community code order
    cameras: list[Any]                       # rows: id, code, name, lat, lon, online, in id order
    centre: tuple[float, float] | None       # (lat, lon) of the grid centroids' box; None without grids


def wall_map_layers(session: Session) -> WallMapLayers:
    """The static layers of the wall's map (the whole street: the wall shows every community)."""
    grids = list(session.execute(select(Grid.id, Grid.code, Grid.name, Grid.boundary).order_by(Grid.id)).all())
    outlines = [b for (b,) in session.execute(select(Community.boundary).order_by(Community.code)).all() if b]
    cams = list(session.execute(select(Camera.id, Camera.code, Camera.name, Camera.lat, Camera.lon, Camera.online)
                                .order_by(Camera.id)).all())
    b = session.execute(select(func.min(Grid.centroid_lat), func.max(Grid.centroid_lat), func.min(Grid.centroid_lon),
                               func.max(Grid.centroid_lon))).one()
    centre = ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2) if b[0] is not None else None
    return WallMapLayers(grids, outlines, cams, centre)
