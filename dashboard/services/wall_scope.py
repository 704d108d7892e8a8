"""How much a wall shows at once: a street's grids, or a district's or city's communities until it zooms in.

A street (the demo: 301 grids) is drawn grid by grid, as it always was. Past ``WIDE_GRIDS`` grids (a district or a
city: ``gen-city`` has 10,000) the wall is *wide*: its base map and shading are one shape per community, its
snapshot carries no per-grid or per-worker detail, and the grids of the part it looks at come from
``/api/v1/wall/grids?bbox=…`` once it is zoomed in past ``GRID_ZOOM`` (``grids_in_view``). The title, the scale and
the charts follow the data: a street's name, else its district's, else its city's (``wall_place``).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..geo.coords import wgs84_to_gcj02
from ..masking import mask_name
from ..models import Case, CaseState, Community, Grid, Street, Worker
from ..timeutil import iso, local_day_bounds, local_today, utcnow

WIDE_GRIDS = 800          # more grids than this: the wall shows communities until zoomed in
GRID_ZOOM = 13.5          # the wall's grids appear from this map zoom on (a view ~5 km wide, a few hundred grids)
MAX_VIEW_GRIDS = 2500     # a bbox answer holds at most this many grids (the nearest the view's centre first)
OPEN_STATES = [s.value for s in CaseState if s.is_open]


def grid_count(session: Session, community_id: int | None = None) -> int:
    q = select(func.count()).select_from(Grid)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return int(session.scalar(q) or 0)


def is_wide(session: Session, community_id: int | None = None) -> bool:
    """A wall of more than WIDE_GRIDS grids shows communities until it is zoomed in."""
    return grid_count(session, community_id) > WIDE_GRIDS


def wall_place(session: Session, community_id: int | None = None) -> dict[str, Any]:
    """What the wall is of: ``{"level": "street"|"district"|"city"|"community", "name": …}`` from the data —
    one street's name, else its one district's, else the city's (the wall's title)."""
    if community_id is not None:
        name = session.scalar(select(Community.name).where(Community.id == community_id))
        return {"level": "community", "name": name or ""}
    streets = session.execute(select(Street.name, Street.district, Street.city)).all()
    if len(streets) <= 1:
        return {"level": "street", "name": streets[0][0] if streets else ""}
    districts = {d for _, d, _ in streets if d}
    if len(districts) == 1:
        return {"level": "district", "name": districts.pop()}
    cities = {c for _, _, c in streets if c}
    return {"level": "city", "name": cities.pop() if len(cities) == 1 else ""}


def community_shapes(session: Session, community_id: int | None = None) -> list[dict[str, Any]]:
    """Each community as one outline: its stored boundary, else the union of its grids (``gen-city`` stores none),
    simplified to ~10 m; ``{"id", "name", "geometry"}`` in community code order."""
    q = select(Community.id, Community.name, Community.boundary).order_by(Community.code)
    if community_id is not None:
        q = q.where(Community.id == community_id)
    rows = session.execute(q).all()
    need = [cid for cid, _, b in rows if not b]
    parts: dict[int, list] = {}
    if need:
        for cid, b in session.execute(select(Grid.community_id, Grid.boundary).where(Grid.community_id.in_(need))):
            if b:
                parts.setdefault(cid, []).append(shape(b))
    out = []
    for cid, name, b in rows:
        if b:
            geom = b
        elif cid in parts:
            merged = shapely.union_all(parts[cid]).simplify(0.0001)
            geom = mapping(merged)
        else:
            continue
        out.append({"id": cid, "name": name, "geometry": _plain(geom)})
    return out


def _plain(geom: Any) -> dict[str, Any]:
    """A GeoJSON geometry as plain lists (shapely's mapping gives tuples) with 6 decimals."""
    def ring(r):
        return [[round(float(x), 6), round(float(y), 6)] for x, y, *_ in r]
    if geom["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(r) for r in geom["coordinates"]]}
    if geom["type"] == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [[ring(r) for r in p] for p in geom["coordinates"]]}
    return dict(geom)


def fit_zoom(bounds: tuple[float, float, float, float], size: tuple[int, int], pad: float = 0.92) -> float:
    """The Web Mercator zoom (512-px world at zoom 0) at which ``bounds`` (west, south, east, north) fills
    ``size`` (w, h pixels) with a margin; the wall opens a district or a city whole, not a corner of it."""
    w, s, e, n = bounds

    def y(lat: float) -> float:
        r = math.sin(math.radians(lat))
        return 0.5 - math.log((1 + r) / (1 - r)) / (4 * math.pi)

    dx, dy = max((e - w) / 360, 1e-9), max(y(s) - y(n), 1e-9)
    return round(min(math.log2(size[0] * pad / (512 * dx)), math.log2(size[1] * pad / (512 * dy))), 2)


def community_values(session: Session, community_id: int | None = None,
                     now=None) -> dict[str, dict[str, int]]:
    """Per community: open cases, cases reported today, workers out (by the grid they stand in)."""
    now = now or utcnow()
    start, end = local_day_bounds(local_today(now))
    is_open = Case.state.in_(OPEN_STATES)
    q = (select(Case.community_id, func.count()).where(is_open, Case.community_id.is_not(None))
         .group_by(Case.community_id))
    t = (select(Case.community_id, func.count())
         .where(Case.created_at >= start, Case.created_at < end, Case.community_id.is_not(None))
         .group_by(Case.community_id))
    w = (select(Grid.community_id, func.count()).join(Worker, Worker.last_grid_id == Grid.id)
         .where(Worker.active.is_(True), Worker.duty_state != "offline").group_by(Grid.community_id))
    if community_id is not None:
        q, t = q.where(Case.community_id == community_id), t.where(Case.community_id == community_id)
        w = w.where(Grid.community_id == community_id)
    return {"open": {str(k): int(v) for k, v in session.execute(q) if v},
            "today": {str(k): int(v) for k, v in session.execute(t) if v},
            "workers": {str(k): int(v) for k, v in session.execute(w) if v}}


def parse_bbox(text: str) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` in degrees → a tuple, or None when it is not four finite numbers in order."""
    try:
        parts = [float(p) for p in text.split(",")]
    except (AttributeError, ValueError):
        return None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        return None
    w, s, e, n = parts
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        return None
    return w, s, e, n


def grids_in_view(session: Session, bbox: tuple[float, float, float, float], *, community_id: int | None = None,
                  gcj: bool = False, limit: int = MAX_VIEW_GRIDS, now=None) -> dict[str, Any]:
    """The grids whose centre lies in ``bbox`` (map coordinates; a grid's half-width is added round it), each with
    its outline in the map's datum and its open and today counts, and the active workers out in them with their
    position and masked label — what a zoomed-in wide wall draws. Scoped to ``community_id`` when given."""
    now = now or utcnow()
    w, s, e, n = bbox
    if gcj:  # the box is in GCJ-02 (the tiles'); the centroids are WGS-84: moved back by the offset at its centre
        glat, glon = wgs84_to_gcj02((s + n) / 2, (w + e) / 2)
        dy, dx = float(glat) - (s + n) / 2, float(glon) - (w + e) / 2
        w, s, e, n = w - dx, s - dy, e - dx, n - dy
    m = 0.003  # ~300 m: a grid whose centre is just outside the view still reaches into it
    cx, cy = (w + e) / 2, (s + n) / 2
    q = (select(Grid.id, Grid.community_id, Grid.code, Grid.name, Grid.boundary)
         .where(Grid.centroid_lon.between(w - m, e + m), Grid.centroid_lat.between(s - m, n + m))
         .order_by(func.abs(Grid.centroid_lon - cx) + func.abs(Grid.centroid_lat - cy)).limit(limit + 1))
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    rows = session.execute(q).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    ids = [r[0] for r in rows]
    start, end = local_day_bounds(local_today(now))
    open_: Counter[int] = Counter()
    today: Counter[int] = Counter()
    for chunk in (ids[i:i + 900] for i in range(0, len(ids), 900)):  # SQLite's bound-parameter limit
        for gid, n in session.execute(select(Case.grid_id, func.count()).where(
                Case.grid_id.in_(chunk), Case.state.in_(OPEN_STATES)).group_by(Case.grid_id)):
            open_[gid or 0] += int(n)
        for gid, n in session.execute(select(Case.grid_id, func.count()).where(
                Case.grid_id.in_(chunk), Case.created_at >= start, Case.created_at < end).group_by(Case.grid_id)):
            today[gid or 0] += int(n)
    grids = []
    for gid, cid, code, name, boundary in rows:
        if not boundary:
            continue
        grids.append({"id": gid, "community_id": cid, "code": code, "name": name,
                      "rings": _rings(boundary, gcj), "open": int(open_.get(gid, 0)), "today": int(today.get(gid, 0))})
    wq = (select(Worker.id, Worker.code, Worker.name, Worker.last_lat, Worker.last_lon, Worker.duty_state,
                 Worker.last_fix_at, Worker.last_grid_id)
          .where(Worker.active.is_(True), Worker.duty_state != "offline", Worker.last_lat.is_not(None),
                 Worker.last_lon.between(w - m, e + m), Worker.last_lat.between(s - m, n + m)).limit(limit * 4))
    if community_id is not None:
        wq = wq.where(Worker.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id)))
    workers, people = [], {}
    for wid, code, name, lat, lon, state, fix, grid in session.execute(wq):
        workers.append([wid, lat, lon, state, iso(fix), grid])
        people[str(wid)] = [code, mask_name(name)]
    return {"bbox": list(bbox), "grids": grids, "truncated": truncated,
            "worker_fields": ["worker_id", "lat", "lon", "state", "t", "grid_id"], "workers": workers,
            "people": people}


def _rings(geom: dict, gcj: bool) -> list:
    """Every ring of a Polygon or MultiPolygon, as ``[[lon, lat], …]`` in the map's datum (6 decimals)."""
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    out = []
    for poly in polys:
        for ring in poly:
            arr = np.asarray(ring, dtype=float)[:, :2]
            if gcj:
                lat, lon = wgs84_to_gcj02(arr[:, 1], arr[:, 0])
                arr = np.column_stack([lon, lat])
            out.append(np.round(arr, 6).tolist())
    return out
