"""Cameras: how each stream is played, and the simulated demo streams the app serves itself.

``stream_url`` schemes: ``sim://CODE`` → this app's MJPEG and snapshot routes;
``http(s)://….m3u8`` → HLS (hls.js, served locally); ``….jpg``/``….jpeg`` or a URL
with ``snapshot`` → a JPEG refreshed every few seconds; any other http(s) URL → MJPEG.
"""
from __future__ import annotations

import hashlib
import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..geo.distance import haversine_m
from ..masking import mask_name
from ..models import Camera, Grid, Worker, WorkerGrid
from ..timeutil import iso, local, utcnow

log = logging.getLogger(__name__)

FRAME_SIZE = (320, 180)
FONT_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def play_spec(camera_code: str, stream_url: str) -> dict[str, Any]:
    """How a browser plays this camera: ``{"type": "mjpeg"|"hls"|"snapshot"|"none", "url", "snapshot"}``."""
    url = (stream_url or "").strip()
    if url.startswith("sim://"):
        code = url[6:] or camera_code
        return {"type": "mjpeg", "url": f"/cameras/{code}/mjpeg", "snapshot": f"/cameras/{code}/snapshot.jpg"}
    low = url.lower().split("?", 1)[0]
    if not low.startswith(("http://", "https://", "/")):
        return {"type": "none", "url": None, "snapshot": None}
    if low.endswith(".m3u8"):
        return {"type": "hls", "url": url, "snapshot": None}
    if low.endswith((".jpg", ".jpeg")) or "snapshot" in low:
        return {"type": "snapshot", "url": url, "snapshot": url}
    return {"type": "mjpeg", "url": url, "snapshot": None}


def camera_public(c: Camera) -> dict[str, Any]:
    """What screens see of a camera, with how to play it."""
    return {"id": c.id, "code": c.code, "name": c.name, "grid_id": c.grid_id, "lat": c.lat, "lon": c.lon,
            "kind": c.kind, "online": c.online, "play": play_spec(c.code, c.stream_url)}


def list_cameras(session: Session, *, grid_ids: list[int] | None = None, camera_ids: list[int] | None = None,
                 community_id: int | None = None) -> list[dict[str, Any]]:
    """Cameras, optionally of some grids, by id or of one community, ordered by code.

    A camera outside every grid (no grid) belongs to the street and is listed for every community.
    """
    q = select(Camera).order_by(Camera.code)
    if grid_ids is not None:
        q = q.where(Camera.grid_id.in_(grid_ids))
    if camera_ids is not None:
        q = q.where(Camera.id.in_(camera_ids))
    if community_id is not None:
        q = q.where(or_(Camera.grid_id.is_(None),
                        Camera.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id))))
    return [camera_public(c) for c in session.scalars(q)]


NEAREST_LIMIT = 12  # a camera with no grid: the street's nearest on-duty workers


def camera_view(session: Session, camera_id: int, *, community_id: int | None = None) -> dict[str, Any] | None:
    """One camera to watch and whom to call (the wall's and the drill-down's camera panel): the camera with how to
    play it, its grid, and the grid's on-duty workers nearest the camera first (masked name and code; the distance
    from their last fix; workers with no fix last). A camera outside every grid lists the nearest on-duty workers of
    the street (of ``community_id``'s grids when given). None if there is no such camera."""
    cam = session.get(Camera, camera_id)
    if cam is None:
        return None
    grid = session.get(Grid, cam.grid_id) if cam.grid_id is not None else None
    q = select(Worker).where(Worker.active.is_(True), Worker.duty_state != "offline")
    if grid is not None:
        q = q.where(or_(Worker.grid_id == grid.id,
                        Worker.id.in_(select(WorkerGrid.worker_id).where(WorkerGrid.grid_id == grid.id))))
    elif community_id is not None:
        q = q.where(Worker.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id)))
    rows = []
    for w in session.scalars(q):
        d = (round(float(haversine_m(cam.lat, cam.lon, w.last_lat, w.last_lon)))
             if w.last_lat is not None and w.last_lon is not None else None)
        rows.append({"id": w.id, "code": w.code, "name": mask_name(w.name), "state": w.duty_state,
                     "distance_m": d, "last_fix_at": iso(w.last_fix_at)})
    rows.sort(key=lambda r: (r["distance_m"] is None, r["distance_m"] or 0, r["code"]))
    if grid is None:
        rows = rows[:NEAREST_LIMIT]
    return {"camera": camera_public(cam),
            "grid": {"id": grid.id, "code": grid.code, "name": grid.name, "community_id": grid.community_id}
            if grid else None,
            "workers": rows}


def sim_source(session: Session, code: str) -> tuple[str, str, int | None] | None:
    """(camera name, grid name, community id) of a camera the app simulates, or None if there is no such camera."""
    row = session.execute(select(Camera.name, Grid.name, Grid.community_id)
                          .outerjoin(Grid, Grid.id == Camera.grid_id).where(Camera.code == code)).first()
    return None if row is None else (row[0], row[1] or "", row[2])


@lru_cache(maxsize=4)
def _font(size: int):
    """A CJK-capable font if the machine has one (fonts-noto-cjk), else Pillow's default."""
    from PIL import ImageFont

    for path in FONT_PATHS:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return ImageFont.load_default()


def render_frame(code: str, name: str, grid_name: str, *, tick: float | None = None, quality: int = 60) -> bytes:
    """One JPEG frame of a simulated camera: its name, grid and a running clock (Asia/Shanghai)."""
    from PIL import Image, ImageDraw

    now = utcnow()
    tick = now.timestamp() if tick is None else tick
    seed = int(hashlib.sha1(code.encode()).hexdigest()[:6], 16)
    w, h = FRAME_SIZE
    base = (20 + seed % 40, 40 + (seed >> 8) % 50, 55 + (seed >> 16) % 60)
    img = Image.new("RGB", FRAME_SIZE, base)
    d = ImageDraw.Draw(img)
    # a "street": a road band and a moving vehicle, so the picture visibly moves
    d.rectangle([0, h * 0.55, w, h * 0.8], fill=(60, 64, 70))
    for x in range(0, w, 40):
        d.rectangle([x + 10, h * 0.67, x + 30, h * 0.69], fill=(210, 210, 180))
    x = int((tick * 40 + seed) % (w + 60)) - 60
    d.rectangle([x, h * 0.58, x + 50, h * 0.72], fill=(200, 80 + seed % 120, 60))
    small, big = _font(13), _font(16)
    d.rectangle([0, 0, w, 24], fill=(0, 0, 0))
    d.text((6, 4), f"{code} {name}"[:28], font=big if len(name) < 14 else small, fill=(255, 255, 255))
    d.text((6, h - 38), grid_name[:22], font=small, fill=(230, 230, 230))
    d.text((6, h - 20), local(now).strftime("%Y-%m-%d %H:%M:%S"), font=small, fill=(255, 230, 120))
    d.ellipse([w - 18, 7, w - 8, 17], fill=(230, 30, 30) if int(tick) % 2 == 0 else (90, 20, 20))  # REC
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
