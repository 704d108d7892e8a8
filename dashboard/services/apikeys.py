"""API keys for integrations and devices: shown once, stored as SHA-256."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import ApiKey, Role, Worker
from ..timeutil import utcnow


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def worker_by_code(session: Session, code: str) -> int:
    """The id of the worker with ``code``; ValueError naming the code when there is none."""
    wid = session.scalar(select(Worker.id).where(Worker.code == code))
    if wid is None:
        raise ValueError(f"no grid worker with code {code!r}")
    return wid


def create_api_key(session: Session, *, name: str, role: str, community_id: int | None = None,
                   worker_id: int | None = None) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored (the API and the CLI refuse a worker key
    without its worker; an old one reads nothing, see services/worker_view.py)."""
    roles = [r.value for r in Role]
    if role not in roles:
        raise ValueError(f"role must be one of {', '.join(roles)}, got {role!r}")
    if not name.strip():
        raise ValueError("name must not be empty")
    key = "gc_" + secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), role=role, prefix=key[:10], key_hash=hash_key(key), community_id=community_id,
                 worker_id=worker_id)
    session.add(row)
    session.flush()
    return row, key


# A key's last use is noted at most once a minute: a phone sending its position every 5 s would otherwise write
# (on SQLite: take the one write turn, and commit) on every request just to move this stamp.
LAST_USE_EVERY = timedelta(minutes=1)


def find_api_key(session: Session, key: str | None) -> ApiKey | None:
    """The active key matching ``key``, or None; reads only."""
    if not key:
        return None
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))


def last_use_due(row: ApiKey, now: datetime | None = None) -> bool:
    """True when the key's last use is unknown or older than LAST_USE_EVERY."""
    return row.last_used_at is None or (now or utcnow()) - row.last_used_at >= LAST_USE_EVERY


def note_use(session: Session, key_id: int, now: datetime | None = None) -> None:
    """Stamp the key's last use (callers check ``last_use_due`` first)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now or utcnow()))
