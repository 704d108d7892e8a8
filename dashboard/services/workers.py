"""Worker duty state and patrols; device tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import events
from ..masking import mask_name, mask_phone
from ..models import DutyState, Grid, Patrol, Worker
from ..timeutil import iso, utcnow


def worker_public(w: Worker, community_id: int | None = None) -> dict[str, Any]:
    """What screens may see of a worker (name and phone masked)."""
    return {"id": w.id, "code": w.code, "name": mask_name(w.name), "phone": mask_phone(w.phone),
            "grid_id": w.grid_id, "community_id": community_id, "role": w.role, "shift": w.shift,
            "state": w.duty_state, "lat": w.last_lat, "lon": w.last_lon, "last_fix_at": iso(w.last_fix_at),
            "battery": w.last_battery}


def device_token_hash(token: str) -> str:
    """What a worker row keeps of its device's token (SHA-256 hex): reading the database does not yield it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def device_token_ok(stored_hash: str | None, token: str | None) -> bool:
    """A device without a token set passes; one with a token needs exactly that token."""
    if not stored_hash:
        return True
    return bool(token) and hmac.compare_digest(device_token_hash(token), stored_hash)


def set_device_token(w: Worker, token: str | None = None) -> str:
    """Give ``w``'s device a new token (a random one unless chosen) and return it; shown once, kept hashed."""
    token = token or secrets.token_urlsafe(24)
    w.device_token_hash = device_token_hash(token)
    return token


def set_duty(session: Session, w: Worker, state: str, *, now: datetime | None = None) -> None:
    """Change a worker's duty state and tell the screens."""
    if w.duty_state == state:
        return
    w.duty_state = state
    comm = session.scalar(select(Grid.community_id).where(Grid.id == w.grid_id)) if w.grid_id else None
    events.record(session, "worker", {"action": "duty", "worker": worker_public(w, comm)}, community_id=comm)


def start_patrol(session: Session, w: Worker, *, now: datetime | None = None) -> Patrol:
    """Open a foot patrol (closing any the worker left open) and mark the worker patrolling."""
    now = now or utcnow()
    for p in session.scalars(select(Patrol).where(Patrol.worker_id == w.id, Patrol.ended_at.is_(None))):
        p.ended_at = now
    p = Patrol(kind="foot", worker_id=w.id, started_at=now, grids_covered=[])
    session.add(p)
    set_duty(session, w, DutyState.PATROLLING, now=now)
    return p


def end_patrol(session: Session, w: Worker, *, now: datetime | None = None, off_duty: bool = True) -> Patrol | None:
    """Close the worker's open patrol; grids covered come from the fixes of the patrol."""
    from ..models import Position

    now = now or utcnow()
    p = session.scalar(select(Patrol).where(Patrol.worker_id == w.id, Patrol.ended_at.is_(None)))
    if p is not None:
        p.ended_at = now
        grids = session.scalars(select(Position.grid_id).where(
            Position.worker_id == w.id, Position.fix_time >= p.started_at, Position.fix_time <= now,
            Position.grid_id.is_not(None)).distinct()).all()
        p.grids_covered = sorted(int(g) for g in grids)
    set_duty(session, w, DutyState.OFFLINE if off_duty else DutyState.AVAILABLE, now=now)
    return p


def worker_in_scope(session: Session, worker_id: int, *, community_id: int | None) -> Worker | None:
    """The worker ``worker_id`` if the caller's scope holds it (``community_id`` None = the whole street), else None —
    another community's worker reads exactly as an unknown one."""
    q = select(Worker).where(Worker.id == worker_id)
    if community_id is not None:
        q = q.join(Grid, Grid.id == Worker.grid_id).where(Grid.community_id == community_id)
    return session.scalar(q)


def active_worker_labels(session: Session, *, community_id: int | None) -> dict[str, list[str | None]]:
    """worker id (text) → [code, masked name] of the active workers in the caller's jurisdiction."""
    q = select(Worker.id, Worker.code, Worker.name).where(Worker.active.is_(True))
    if community_id is not None:
        q = q.where(Worker.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id)))
    return {str(i): [code, mask_name(name)] for i, code, name in session.execute(q)}
