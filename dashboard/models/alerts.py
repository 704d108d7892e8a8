"""Alerts from rules, CAP feeds, device SOS and cameras."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
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
    # one open alert per rule and subject (issue 27): ``subject`` names what a rule alert is about (grid:12,
    # community:3, case:7, worker:5 …); a repeat updates the open one (repeat_count, last_at, severity) instead of
    # raising another. Its text is an i18n template (text_key + ".title"/".detail") with text_params, so each
    # screen renders it in its own language; title/description keep the zh-CN rendering for exports and search.
    subject: Mapped[str | None] = mapped_column(String(64))
    repeat_count: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    last_at: Mapped[datetime | None]
    text_key: Mapped[str | None] = mapped_column(String(64))
    text_params: Mapped[dict[str, Any] | None]


# the database holds the "one open alert per rule and subject" rule, so two concurrent passes cannot both insert
OPEN_SUBJECT_WHERE = text("subject IS NOT NULL AND state <> 'resolved'")
Index("ux_alert_open_subject", Alert.kind, Alert.subject, unique=True, sqlite_where=OPEN_SUBJECT_WHERE,
      postgresql_where=OPEN_SUBJECT_WHERE)


class CapSender(Base):
    """Who owns a CAP ``sender``: the caller that first used it (``key:<id>``, ``user:<id>`` or ``demo``).
    Only that caller may send as it again, and so update or cancel its alerts."""

    __tablename__ = "cap_sender"
    sender: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
