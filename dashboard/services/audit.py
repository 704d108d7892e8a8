"""The audit log: who did what, when, to what, from where (PROTOCOLS.md Part E).

Written from the edges (API handlers, sign-in) with ``record``; read by admins through
``GET /api/v1/audit``; rows younger than the retention (≥ 180 days) are never pruned.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from ..models import AuditLog
from ..timeutil import iso, utcnow

MIN_RETENTION_DAYS = 180


def record(session: Session, principal: Any, action: str, target: str = "", detail: dict | None = None,
           ip: str | None = None) -> AuditLog:
    """Add one audit row to the session's transaction (``principal`` may be None: anonymous)."""
    row = AuditLog(at=utcnow(), actor=(getattr(principal, "name", None) or "anonymous")[:64],
                   role=(getattr(principal, "role", None) or "")[:16], action=action[:32], target=str(target)[:128],
                   detail=detail or None, ip=(ip or "")[:64], user_id=getattr(principal, "user_id", None),
                   api_key_id=getattr(principal, "key_id", None),
                   community_id=getattr(principal, "community_id", None))
    session.add(row)
    return row


def audit_public(row: AuditLog) -> dict[str, Any]:
    return {"id": row.id, "at": iso(row.at), "actor": row.actor, "role": row.role, "action": row.action,
            "target": row.target, "detail": row.detail, "ip": row.ip, "user_id": row.user_id,
            "api_key_id": row.api_key_id, "community_id": row.community_id}


def query(session: Session, *, action: str | None = None, actor: str | None = None, target: str | None = None,
          since: datetime | None = None, until: datetime | None = None, limit: int = 100,
          offset: int = 0, community_id: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Newest first, filtered; returns (rows, total matching). ``community_id`` (a community-bound reader) keeps
    the rows of that community's actors only: street-wide actors' rows may name any community's records."""
    conds = []
    if community_id is not None:
        conds.append(AuditLog.community_id == community_id)
    if action:
        conds.append(AuditLog.action == action)
    if actor:
        conds.append(AuditLog.actor == actor)
    if target:
        conds.append(AuditLog.target == target)
    if since:
        conds.append(AuditLog.at >= since)
    if until:
        conds.append(AuditLog.at < until)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*conds)) or 0
    rows = session.scalars(select(AuditLog).where(*conds).order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return [audit_public(r) for r in rows], total


def retention_days(settings) -> int:
    """GC_AUDIT_RETENTION_DAYS, never below 180."""
    return max(MIN_RETENTION_DAYS, settings.audit_retention_days)


def prune(session: Session, days: int, now: datetime | None = None) -> int:
    """Delete rows older than ``days`` (clamped to ≥ 180); returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=max(MIN_RETENTION_DAYS, days))
    result = cast(CursorResult, session.execute(delete(AuditLog).where(AuditLog.at < cutoff)))  # DML: has rowcount
    return result.rowcount or 0
