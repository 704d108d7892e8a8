"""Cases (事件/案卷), their timeline, photos and dispatches; the category catalogue."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..timeutil import utcnow
from .enums import CaseState


class Category(Base):
    """A small class (小类) under a major class (大类), with its time limit."""

    __tablename__ = "category"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # 小类 code, e.g. 0102
    name: Mapped[str] = mapped_column(String(64))
    major_code: Mapped[str] = mapped_column(String(4), index=True)
    major_name: Mapped[str] = mapped_column(String(64))
    time_limit_hours: Mapped[float] = mapped_column(default=24.0)  # hours, counted by ``clock``
    # "natural": urgent (火情, 人员受伤 …), hours around the clock from the report;
    # "working": office hours on the Chinese working calendar from the first dispatch
    clock: Mapped[str] = mapped_column(String(8), default="working", server_default="working")
    default_priority: Mapped[int] = mapped_column(default=3)  # 1 urgent .. 4 low
    weight: Mapped[float] = mapped_column(default=1.0)
    onsite_share: Mapped[float] = mapped_column(default=0.6)
    keywords: Mapped[str] = mapped_column(String(256), default="")
    active: Mapped[bool] = mapped_column(default=True)


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_state_created", "state", "created_at"),
        Index("ix_case_file_grid_created", "grid_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), index=True)
    priority: Mapped[int] = mapped_column(default=3)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    outside: Mapped[bool] = mapped_column(default=False)  # located outside the street: flagged
    source: Mapped[str] = mapped_column(String(16), default="app")
    reporter_worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(64))   # citizen (Open311): sensitive
    reporter_phone: Mapped[str | None] = mapped_column(String(32))  # sensitive
    reporter_email: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=CaseState.REPORTED)
    level: Mapped[str] = mapped_column(String(12), default="grid")  # grid | community | street
    handled_onsite: Mapped[bool] = mapped_column(default=False)
    assigned_worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None] = mapped_column(index=True)
    feedback_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rework_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    media_url: Mapped[str | None] = mapped_column(String(512))
    attributes: Mapped[dict[str, Any] | None]
    category: Mapped[Category] = relationship(lazy="joined")
    timeline: Mapped[list["CaseLog"]] = relationship(lazy="selectin", order_by="CaseLog.id",
                                                     cascade="all, delete-orphan")
    photos: Mapped[list["CasePhoto"]] = relationship(lazy="selectin", order_by="CasePhoto.id",
                                                     cascade="all, delete-orphan")


class CaseLog(Base):
    """One step of a case's timeline: who did what, when, from which state to which."""

    __tablename__ = "case_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None]


class CasePhoto(Base):
    __tablename__ = "case_photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(8), default="before")  # before | after
    path: Mapped[str] = mapped_column(String(256))
    thumb_path: Mapped[str | None] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(32), default="image/jpeg")
    size: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispatch(Base):
    __tablename__ = "dispatch"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="sent")  # sent|acknowledged|arrived|done|cancelled
