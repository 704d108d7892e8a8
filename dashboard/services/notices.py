"""Grid notices (网格通知, issue 31 item 2): who may publish where, what the residents' page shows, read counts.

- A grid worker publishes to her own grids (``worker_grids``: the grids she serves); naming another grid is
  refused. The grids of one notice lie in one community (a worker serving two communities sends one to each).
- The center (dispatcher, admin) publishes to a community or to the whole street; a community-bound user only
  to its own community.
- The residents' page of a grid shows the notices that reach it — its own grid notices, its community's and the
  street's — that are neither withdrawn nor past ``valid_until``, urgent first, then newest (``live_for_grid``).
- Each publication writes its outbox message (services/notifier.py) in the same transaction.
- Opens are counted per notice and grid (``NoticeRead``); the API edge counts one open per visitor address, grid
  and hour, so a stranger cannot inflate a count cheaply.

A notice's title and text are the author's message to the public (a poster on the notice board), shown through the
free-text masking every screen applies (a resident's name or mobile number typed into it is masked); the author's
name is masked as every worker's is.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..masking import mask_name, mask_text
from ..models import Community, Grid, Worker
from ..models.people import WorkerGrid
from ..models.residents import Notice, NoticeRead, NotifyOutbox
from ..timeutil import as_utc, iso, utcnow
from . import notifier
from .name_index import known_names
from .photos import TOKEN_RE

SCOPES = ("grid", "community", "street")
TITLE_MAX, BODY_MAX = 80, 2000
DEFAULT_VALID = timedelta(days=7)
MAX_VALID = timedelta(days=180)
LIST_MAX = 200


class NoticeError(ValueError):
    """A refused notice: ``status`` 403 (not yours to send there), 404 or 422, naming ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class NoticeIn:
    scope: str
    title: str
    body: str = ""
    grid_ids: tuple[int, ...] = ()
    community_id: int | None = None
    picture: str | None = None          # an upload token from POST /api/v1/photos
    valid_until: datetime | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Author:
    """Who publishes: a worker (``worker_id``) or a center user bound to ``community_id`` (None = the street)."""

    name: str
    worker_id: int | None = None
    community_id: int | None = None


def worker_grids(session: Session, worker_id: int) -> set[int]:
    """The grids a worker serves (her home grid and every assigned one)."""
    ids = set(session.scalars(select(WorkerGrid.grid_id).where(WorkerGrid.worker_id == worker_id)))
    home = session.scalar(select(Worker.grid_id).where(Worker.id == worker_id))
    return ids | ({home} if home is not None else set())


def _checked_text(value: str, field: str, most: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise NoticeError(422, f"{field} is required", field)
    if len(text) > most:
        raise NoticeError(422, f"{field} is longer than {most} characters", field)
    return text


def validate(session: Session, data: NoticeIn, author: Author, now: datetime) -> tuple[list[int], int | None]:
    """The grids and community a notice goes to, after checking the author may send it there."""
    if data.scope not in SCOPES:
        raise NoticeError(422, f"scope must be one of {', '.join(SCOPES)}", "scope")
    if data.valid_until is not None:
        until = as_utc(data.valid_until)
        if until <= now:
            raise NoticeError(422, "valid_until must lie in the future", "valid_until")
        if until > now + MAX_VALID:
            raise NoticeError(422, f"valid_until lies more than {MAX_VALID.days} days ahead", "valid_until")
    if author.worker_id is not None:
        if data.scope != "grid":
            raise NoticeError(403, "a grid worker publishes to her own grids (scope grid)", "scope")
        mine = worker_grids(session, author.worker_id)
        grids = sorted(set(data.grid_ids)) if data.grid_ids else sorted(mine)
        if not grids:
            raise NoticeError(422, "this worker serves no grid", "grid_ids")
        foreign = [g for g in grids if g not in mine]
        if foreign:
            raise NoticeError(403, f"grid {foreign[0]} is not one of your grids", "grid_ids")
        comms = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(grids))))
        if len(comms) > 1:
            raise NoticeError(422, "the grids of one notice lie in one community; send one per community",
                              "grid_ids")
        return grids, next(iter(comms), None)
    if data.scope == "grid":
        raise NoticeError(422, "the center publishes to a community or the street (scope community or street)",
                          "scope")
    if data.scope == "street":
        if author.community_id is not None:
            raise NoticeError(403, "a community-bound user publishes to its own community only", "scope")
        return [], None
    if data.community_id is None:
        raise NoticeError(422, "community_id is required for scope community", "community_id")
    if author.community_id is not None and data.community_id != author.community_id:
        raise NoticeError(403, f"community {data.community_id} is outside your jurisdiction", "community_id")
    if session.get(Community, data.community_id) is None:
        raise NoticeError(422, f"unknown community {data.community_id}", "community_id")
    return [], data.community_id


def _case_photo(session: Session, token: str) -> bool:
    """Is the upload ``token`` already a case's photo (a case's evidence is never a notice's picture)?"""
    from ..models import CasePhoto

    return session.scalar(select(CasePhoto.id).where(CasePhoto.path == f"photos/{token[2:4]}/{token}.jpg")) is not None


def _take_picture(uploads: Path, token: str) -> str:
    """Move a staged upload (full size and thumbnail) under ``notices/``; its path relative to the uploads folder.
    Moved, not copied: the token is spent, and the sweep of unattached case photos no longer sees it."""
    if not TOKEN_RE.match(token or ""):
        raise NoticeError(422, "picture must be a photo token from POST /api/v1/photos", "picture")
    src, thumb = uploads / f"photos/{token[2:4]}/{token}.jpg", uploads / f"photos/{token[2:4]}/{token}.thumb.jpg"
    if not src.is_file():
        raise NoticeError(422, f"no uploaded photo {token}", "picture")
    rel = f"notices/{token}.jpg"
    (uploads / "notices").mkdir(parents=True, exist_ok=True)
    os.replace(src, uploads / rel)
    if thumb.is_file():
        os.replace(thumb, uploads / f"notices/{token}.thumb.jpg")
    return rel


def publish(session: Session, data: NoticeIn, author: Author, *, uploads: Path, backend: str,
            now: datetime | None = None) -> Notice:
    """Check and write a notice and its outbox message (one transaction: the caller's)."""
    now = now or utcnow()
    title = _checked_text(data.title, "title", TITLE_MAX, required=True)
    body = _checked_text(data.body, "body", BODY_MAX, required=False)
    grids, community_id = validate(session, data, author, now)
    if data.picture and _case_photo(session, data.picture):  # moving it would take it from the case, to the public
        raise NoticeError(422, "this photo belongs to a case; upload the notice's picture by itself", "picture")
    picture = _take_picture(uploads, data.picture) if data.picture else None
    n = Notice(scope=data.scope, grid_ids=grids, community_id=community_id, title=title, body=body,
               picture_path=picture, urgent=bool(data.urgent),
               valid_until=as_utc(data.valid_until) if data.valid_until else now + DEFAULT_VALID,
               author=author.name[:64], author_worker_id=author.worker_id, created_at=now)
    session.add(n)
    session.flush()
    notifier.enqueue(session, kind="notice", ref_id=n.id, payload=outbox_payload(session, n), backend=backend,
                     now=now)
    return n


def outbox_payload(session: Session, n: Notice) -> dict[str, Any]:
    """What the office's platform receives of a notice: the notice as residents see it and where it goes."""
    comm = session.get(Community, n.community_id) if n.community_id else None
    grids = session.execute(select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(n.grid_ids or []))).all()
    return {"notice": {**resident_view(n), "scope": n.scope},
            "audience": {"scope": n.scope,
                         "community": {"id": comm.id, "code": comm.code, "name": comm.name} if comm else None,
                         "grids": [{"id": g.id, "code": g.code, "name": g.name} for g in grids]}}


def is_live(n: Notice, now: datetime) -> bool:
    return n.withdrawn_at is None and (n.valid_until is None or as_utc(n.valid_until) > now)


def state_of(n: Notice, now: datetime) -> str:
    """live | expired | withdrawn."""
    if n.withdrawn_at is not None:
        return "withdrawn"
    return "live" if is_live(n, now) else "expired"


def reaches(n: Notice, grid_id: int, community_id: int | None) -> bool:
    """Does notice ``n`` reach the residents' page of grid ``grid_id`` (of ``community_id``)?"""
    if n.scope == "street":
        return True
    if n.scope == "community":
        return community_id is not None and n.community_id == community_id
    return grid_id in (n.grid_ids or [])


def live_for_grid(session: Session, grid: Grid, now: datetime) -> list[Notice]:
    """The live notices a grid's residents see, urgent first, then newest."""
    q = select(Notice).where(Notice.withdrawn_at.is_(None),
                             or_(Notice.valid_until.is_(None), Notice.valid_until > now),
                             or_(Notice.scope == "street", Notice.community_id == grid.community_id))
    rows = [n for n in session.scalars(q.limit(LIST_MAX * 2)) if reaches(n, grid.id, grid.community_id)]
    rows.sort(key=lambda n: (not n.urgent, -as_utc(n.created_at).timestamp(), -n.id))
    return rows[:LIST_MAX]


def picture_url(n: Notice) -> str | None:
    return f"/api/v1/r/notices/{n.id}/picture" if n.picture_path else None


def resident_view(n: Notice) -> dict[str, Any]:
    """A notice as the residents' page shows it (no author, no ids of people). Its title and text go through the
    free-text masking every screen's text does: a resident's name or mobile number typed into a notice is not
    published (the row keeps what was written)."""
    known = known_names(n)
    return {"id": n.id, "title": mask_text(n.title, (), known), "body": mask_text(n.body, (), known),
            "urgent": bool(n.urgent), "picture_url": picture_url(n), "valid_until": iso(n.valid_until),
            "created_at": iso(n.created_at)}


def notice_public(n: Notice, now: datetime, *, reads: int = 0, per_grid: list[dict] | None = None) -> dict[str, Any]:
    """A notice as the center and the worker's phone list it."""
    out = {**resident_view(n), "scope": n.scope, "grid_ids": list(n.grid_ids or []), "community_id": n.community_id,
           "author": mask_name(n.author), "author_worker_id": n.author_worker_id, "state": state_of(n, now),
           "withdrawn_at": iso(n.withdrawn_at), "reads": reads}
    if per_grid is not None:
        out["reads_by_grid"] = per_grid
    return out


def record_reads(session: Session, notice_ids: list[int], grid_id: int, now: datetime) -> None:
    """Count one open of each notice on grid ``grid_id``'s page."""
    if not notice_ids:
        return
    have = {r.notice_id: r for r in session.scalars(select(NoticeRead).where(
        NoticeRead.grid_id == grid_id, NoticeRead.notice_id.in_(notice_ids)))}
    for nid in notice_ids:
        row = have.get(nid)
        if row is None:
            session.add(NoticeRead(notice_id=nid, grid_id=grid_id, reads=1, last_read_at=now))
        else:
            row.reads += 1
            row.last_read_at = now


def read_totals(session: Session, notice_ids: list[int], *, community_id: int | None = None) -> dict[int, int]:
    """Opens per notice; with ``community_id``, on that community's grids only (a street notice's opens elsewhere
    are not a community's business)."""
    from sqlalchemy import func

    if not notice_ids:
        return {}
    q = select(NoticeRead.notice_id, func.sum(NoticeRead.reads)).where(NoticeRead.notice_id.in_(notice_ids))
    if community_id is not None:
        q = q.where(NoticeRead.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id)))
    return dict(session.execute(q.group_by(NoticeRead.notice_id)).all())


def reads_by_grid(session: Session, n: Notice) -> list[dict[str, Any]]:
    """Opens per grid of a notice: every grid it reaches, with 0 where nobody opened it, most read first."""
    q = select(Grid.id, Grid.code, Grid.name)
    if n.scope == "grid":
        q = q.where(Grid.id.in_(n.grid_ids or []))
    elif n.scope == "community":
        q = q.where(Grid.community_id == n.community_id)
    grids = session.execute(q).all()
    counts = dict(session.execute(select(NoticeRead.grid_id, NoticeRead.reads).where(
        NoticeRead.notice_id == n.id)).all())
    rows = [{"grid_id": g.id, "code": g.code, "name": g.name, "reads": int(counts.get(g.id, 0))} for g in grids]
    rows.sort(key=lambda r: (-r["reads"], r["code"]))
    return rows


def visible(session: Session, *, worker_id: int | None, community_id: int | None, now: datetime,
            state: str = "all", limit: int = 50) -> list[Notice]:
    """The notices a caller lists: a worker those reaching her grids (her own among them); a community-bound user
    its community's (grid notices of its grids too) and the street's; a street-wide user all. Newest first."""
    q = select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc())
    if state == "live":
        q = q.where(Notice.withdrawn_at.is_(None), or_(Notice.valid_until.is_(None), Notice.valid_until > now))
    if worker_id is not None:
        mine = worker_grids(session, worker_id)
        comms = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(mine)))) - {None}
        q = q.where(or_(Notice.author_worker_id == worker_id, Notice.scope == "street",
                        Notice.community_id.in_(comms)))
        rows = [n for n in session.scalars(q.limit(limit * 4)) if n.author_worker_id == worker_id
                or n.scope != "grid" or set(n.grid_ids or []) & mine]
        return rows[:limit]
    if community_id is not None:
        q = q.where(or_(Notice.scope == "street", Notice.community_id == community_id))
    return list(session.scalars(q.limit(limit)))


def may_see(session: Session, n: Notice, *, worker_id: int | None, community_id: int | None) -> bool:
    if worker_id is not None:
        mine = worker_grids(session, worker_id)
        comms = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(mine))))
        return n.author_worker_id == worker_id or n.scope == "street" or \
            (n.scope == "community" and n.community_id in comms) or bool(set(n.grid_ids or []) & mine)
    return community_id is None or n.scope == "street" or n.community_id == community_id


def withdraw(session: Session, n: Notice, *, worker_id: int | None, community_id: int | None,
             now: datetime) -> Notice:
    """Take a notice off the residents' pages; its undelivered message is not sent. A worker withdraws her own
    notices, a community-bound user its community's (not the street's)."""
    if worker_id is not None and n.author_worker_id != worker_id:
        raise NoticeError(403, "a grid worker withdraws only her own notices", "id")
    if worker_id is None and community_id is not None and n.community_id != community_id:
        raise NoticeError(403, "a community-bound user withdraws only its own community's notices", "id")
    if n.withdrawn_at is None:
        n.withdrawn_at = now
        for row in session.scalars(select(NotifyOutbox).where(NotifyOutbox.kind == "notice",
                                                              NotifyOutbox.ref_id == n.id,
                                                              NotifyOutbox.state == "pending")):
            row.state, row.last_error = "skipped", "the notice was withdrawn"
    return n


def grids_reached(session: Session, n: Notice) -> list[int]:
    """Every grid whose residents' page a notice reaches (for the live push)."""
    if n.scope == "grid":
        return list(n.grid_ids or [])
    q = select(Grid.id)
    if n.scope == "community":
        q = q.where(Grid.community_id == n.community_id)
    return list(session.scalars(q))
