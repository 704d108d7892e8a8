"""Residents in the loop (issue 31): a resident's report ticket, grid notices with their read counts and their
delivery outbox, and a worker's visits (走访).

A resident has no account. A report made on ``/r`` is an ordinary case (source "resident") plus a
``ResidentTicket``: the secret token of its tracking link, the public tracking code the resident reads out on the
phone, the call-back number (personal data: masked everywhere but the case detail of roles that may unmask), and the
resident's verdict after closure (满意 / 基本满意 / 不满意; 不满意 sends the case back to the check queue once).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow


class ResidentTicket(Base):
    """The resident's side of a case: how she follows it and what she said of the result."""

    __tablename__ = "resident_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)          # secret, in the tracking link
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)  # short, read out on the phone
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)  # the QR code's grid
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    resident_category: Mapped[str] = mapped_column(String(24), default="")  # the resident list's key
    phone: Mapped[str | None] = mapped_column(String(32))                 # sensitive: call-back number
    address_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed hash of the sender's address
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    first_response_at: Mapped[datetime | None]   # the center's first step after 受理 (registered or dispatched)
    satisfaction: Mapped[str | None] = mapped_column(String(12))  # satisfied | basic | unsatisfied
    satisfaction_comment: Mapped[str] = mapped_column(Text, default="")
    satisfaction_at: Mapped[datetime | None]
    reworked: Mapped[bool] = mapped_column(default=False)  # 不满意 reopened it once; a second 不满意 does not


class Notice(Base):
    """A grid notice (网格通知): from a worker to her grids, or from the center to a community or the street."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_scope_created", "scope", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(12))  # grid | community | street
    grid_ids: Mapped[list[Any]] = mapped_column(default=list)  # scope "grid": the grids it goes to
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    picture_path: Mapped[str | None] = mapped_column(String(256))
    urgent: Mapped[bool] = mapped_column(default=False)
    valid_until: Mapped[datetime | None] = mapped_column(index=True)
    author: Mapped[str] = mapped_column(String(64), default="")  # user name or worker code
    author_worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    withdrawn_at: Mapped[datetime | None]
    # "<author namespace>:<Idempotency-Key>": a phone's retry of the same notice answers with this one
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)


class NoticeRead(Base):
    """How often a notice was opened on the residents' page of one grid."""

    __tablename__ = "notice_read"
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    reads: Mapped[int] = mapped_column(default=0)
    last_read_at: Mapped[datetime | None]


class NotifyOutbox(Base):
    """A message to deliver beyond the page (the office's SMS or messaging platform), written in the same
    transaction as what it tells; a sender drains it with retries and backoff."""

    __tablename__ = "notify_outbox"
    __table_args__ = (Index("ix_notify_outbox_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # notice | …
    ref_id: Mapped[int | None]                     # the notice's id, …
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | dead | skipped
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class NotifyAttempt(Base):
    """Every delivery attempt of an outbox message, as the office's platform answered it."""

    __tablename__ = "notify_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notify_outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    backend: Mapped[str] = mapped_column(String(16), default="webhook")
    status_code: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(default=0.0)


class Visit(Base):
    """A household or place visit (走访) a worker recorded: whom, what they need and think, what was promised."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_grid_at", "grid_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="household")  # household | place
    whom: Mapped[str] = mapped_column(String(64), default="")  # personal: shown masked
    place: Mapped[str] = mapped_column(String(128), default="")  # address / place name
    needs: Mapped[str] = mapped_column(Text, default="")
    opinions: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    follow_up_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
