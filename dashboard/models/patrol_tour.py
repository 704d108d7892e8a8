"""Mouse patrol (鼠标巡逻): tours of grids and cameras, and the log of every stop an operator marked."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow


class PatrolTour(Base):
    """A tour: an ordered list of stops ``[{"grid_id", "camera_ids", "dwell_s"}]``."""

    __tablename__ = "patrol_tour"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | open_cases | unpatrolled | community
    stops: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default="draft")  # draft | running | paused | finished
    operator: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    current: Mapped[int] = mapped_column(default=0)  # index of the stop being shown


class PatrolStopLog(Base):
    """One stop of a mouse patrol: who looked at which grid, when, and what they found."""

    __tablename__ = "patrol_stop_log"
    __table_args__ = (Index("ix_patrol_stop_log_day_grid", "day", "grid_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tour_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_tour.id", ondelete="SET NULL"), index=True)
    stop_index: Mapped[int | None]
    operator: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    day: Mapped[date] = mapped_column(Date)  # Asia/Shanghai calendar day of ``at``, for daily coverage
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    result: Mapped[str] = mapped_column(String(8), default="ok")  # ok (巡查正常) | issue (发现问题)
    note: Mapped[str] = mapped_column(Text, default="")
    auto: Mapped[bool] = mapped_column(default=False)  # dwell ran out without a click
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    camera_ids: Mapped[list[Any]] = mapped_column(default=list)
