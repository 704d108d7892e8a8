"""Per-day rollup of GPS fixes: one row per (local day, worker, grid), kept at ingest."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

NO_GRID = 0  # grid_id of fixes outside every grid (the key cannot hold NULL)


class PositionDay(Base):
    """How many fixes a worker sent from a grid on one Asia/Shanghai day, and the first/last fix time.

    Maintained by ``services.position_day.record`` inside ``ingest_fixes`` (only fixes actually
    stored count, so duplicates never do; late fixes land on their own day); ``backfill``
    rebuilds it from the position table. Equals ``GROUP BY local day, worker_id, grid_id``.
    """

    __tablename__ = "position_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    worker_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # NO_GRID for fixes outside the grids
    fixes: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
