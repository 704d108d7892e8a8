"""Residents in the loop (issue 31): the residents' page /r of a compound's QR code, their reports and tracking.

A resident has no account. The QR code in a compound carries its grid as ``/r?g=<grid code>.<check>``: the grid
codes are public, the check (an HMAC of the code under the server's secret, ``GC_SECRET_KEY``) keeps a stranger
from filing reports against any grid by counting codes; it never changes while the secret stays.

A report is an ordinary case (source ``resident``) located to its grid, plus a ``ResidentTicket`` with the secret
token of the tracking link, a short tracking code, the call-back phone (personal data) and, after closure, the
resident's verdict.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import place_name
from ..masking import mask_name, mask_phone
from ..models import Grid, Worker, WorkerGrid

# The residents' short list (keys; texts ``r.cat.<key>`` in both languages) → the center's category, by code first
# and by name when another street numbers its categories differently; the operator confirms it in triage.
RESIDENT_CATEGORIES: dict[str, tuple[str, str]] = {
    "garbage": ("0101", "暴露垃圾"),          # 垃圾、环境卫生
    "clutter": ("0102", "乱堆物料"),          # 乱堆乱放、占道
    "parking": ("0106", "乱停乱放"),          # 乱停车
    "fire_safety": ("0401", "消防通道堵塞"),  # 消防通道、楼道充电、燃气
    "facility": ("0802", "路灯损坏"),         # 路灯、井盖、设施损坏
    "road": ("0105", "道路破损"),
    "water_heating": ("0603", "供水供暖问题"),
    "noise": ("0604", "噪音扰民"),
    "dispute": ("0201", "邻里纠纷"),          # 邻里、物业
    "elderly": ("0503", "独居老人关爱"),      # 老人、困难群众需要帮助
    "other": ("0605", "政策咨询"),            # 其他、咨询建议
}
LINK_CHECK_LEN = 10  # hex characters of the grid link's HMAC: 40 bits, not worth guessing against a rate limit
_LINK_RE = re.compile(r"^(?P<code>[0-9A-Za-z_-]{1,32})\.(?P<check>[0-9a-f]{%d})$" % LINK_CHECK_LEN)


def grid_link_param(secret: str, grid_code: str) -> str:
    """The ``g=`` value of a grid's QR link: its code and a check only this server can make."""
    check = hmac.new(secret.encode(), b"r-grid:" + grid_code.encode(), hashlib.sha256).hexdigest()
    return f"{grid_code}.{check[:LINK_CHECK_LEN]}"


def grid_code_of(secret: str, param: str | None) -> str | None:
    """The grid code a QR link's ``g=`` names, or None when it is malformed or its check is wrong."""
    m = _LINK_RE.match((param or "").strip())
    if m is None:
        return None
    return m["code"] if hmac.compare_digest(grid_link_param(secret, m["code"]), m.group(0)) else None


@dataclass(frozen=True)
class GridPage:
    """What the residents' page shows of its grid (nothing private: the worker's name and number masked)."""

    grid_id: int
    code: str
    name: str
    community: str
    community_id: int
    worker: str | None      # masked name of the grid's worker
    worker_phone: str | None  # masked service number (the call button asks the server for the number)
    centroid: tuple[float, float]
    boundary: dict[str, Any]


def grid_worker(session: Session, grid_id: int) -> Worker | None:
    """The grid's own worker: the primary assignment first, else the worker whose home grid it is."""
    w = session.scalar(select(Worker).join(WorkerGrid, WorkerGrid.worker_id == Worker.id).where(
        WorkerGrid.grid_id == grid_id, Worker.active.is_(True)).order_by(WorkerGrid.primary.desc(), Worker.id))
    return w or session.scalar(select(Worker).where(Worker.grid_id == grid_id, Worker.active.is_(True))
                               .order_by(Worker.id))


def grid_page(session: Session, grid_code: str, lang: str | None) -> GridPage | None:
    """The grid a QR link names, as the page shows it in ``lang``; None for an unknown grid."""
    g = session.scalar(select(Grid).where(Grid.code == grid_code))
    if g is None:
        return None
    w = grid_worker(session, g.id)
    return GridPage(grid_id=g.id, code=g.code, name=place_name(g.name, lang) or g.name,
                    community=place_name(g.community.name, lang) or g.community.name, community_id=g.community_id,
                    worker=mask_name(w.name) if w else None, worker_phone=mask_phone(w.phone) if w and w.phone
                    else None, centroid=(g.centroid_lat, g.centroid_lon), boundary=g.boundary)
