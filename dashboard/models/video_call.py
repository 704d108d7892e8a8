"""Video dispatch (视频调度): one WebRTC call between the console and a worker's phone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow


class VideoCall(Base):
    """Who called whom, about what, when it rang, was answered and ended, and how it ended."""

    __tablename__ = "video_call"
    id: Mapped[int] = mapped_column(primary_key=True)
    operator: Mapped[str] = mapped_column(String(64), default="")
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    state: Mapped[str] = mapped_column(String(12), default="ringing")  # ringing|active|ended|declined|missed|cancelled
    caller_sid: Mapped[str | None] = mapped_column(String(64))
    callee_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(16))  # operator | worker | system
    duration_s: Mapped[float | None]
