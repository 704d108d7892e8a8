"""Per-day rollup of GPS fixes: one row per (local day, worker, grid), kept at ingest."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Integer
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
    # metres walked that day, the move ending in this grid: jitter filtered (services.position_day.advance)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class PositionWalk(Base):
    """Where each worker's walk stands (one row per worker, the day it belongs to): the last kept fix (anchor),
    the last good fix's time and a jump waiting for a second fix to confirm it. Ingest reads and updates it per
    batch, so a day's distance adds up across batches without re-reading the day's fixes."""

    __tablename__ = "position_walk"
    worker_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    anchor_at: Mapped[datetime]
    anchor_lat: Mapped[float] = mapped_column(Float)
    anchor_lon: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime]
    pending_at: Mapped[datetime | None]
    pending_lat: Mapped[float | None] = mapped_column(Float)
    pending_lon: Mapped[float | None] = mapped_column(Float)
