"""Alerts from rules, CAP feeds, device SOS and cameras."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow
from .enums import AlertState


class Alert(Base):
    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))   # rule | cap | sos | camera | device
    kind: Mapped[str] = mapped_column(String(32))     # e.g. overdue, no_ack, sos, cap
    severity: Mapped[str] = mapped_column(String(12), default="moderate")  # extreme|severe|moderate|minor
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    area: Mapped[dict[str, Any] | None]  # GeoJSON geometry
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    grid_ids: Mapped[list[Any]] = mapped_column(default=list)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    state: Mapped[str] = mapped_column(String(16), default=AlertState.NEW, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(256), unique=True)
    channel: Mapped[str] = mapped_column(String(12), default="actual")  # actual | exercise
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    ack_comment: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolve_comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]


class CapSender(Base):
    """Who owns a CAP ``sender``: the caller that first used it (``key:<id>``, ``user:<id>`` or ``demo``).
    Only that caller may send as it again, and so update or cancel its alerts."""

    __tablename__ = "cap_sender"
    sender: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
