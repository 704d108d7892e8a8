"""The event log every live update is read from, and the audit log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow
from .people import BigId


class Event(Base):
    """One live update. ``seq`` is monotonic in commit order (see dashboard.events)."""

    __tablename__ = "event"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    community_id: Mapped[int | None] = mapped_column(Integer)  # None = street-wide
    payload: Mapped[dict[str, Any]]


Index("ix_event_at", Event.at)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any] | None]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    api_key_id: Mapped[int | None] = mapped_column(Integer)  # an API-key actor: names repeat, ids do not
    community_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the actor's jurisdiction (None = street)
