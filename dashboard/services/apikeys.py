"""API keys for integrations and devices: shown once, stored as SHA-256."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiKey, Role
from ..timeutil import utcnow


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, *, name: str, role: str, community_id: int | None = None,
                   worker_id: int | None = None) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored."""
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


def check_api_key(session: Session, key: str | None) -> ApiKey | None:
    """The active key matching ``key`` (and its last use noted), or None."""
    if not key:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))
    if row is not None:
        row.last_used_at = utcnow()
    return row
