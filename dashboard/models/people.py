"""Grid workers, their positions and patrols; users and API keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..timeutil import utcnow
from .enums import DutyState

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Worker(Base):
    __tablename__ = "worker"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")  # personal: masked everywhere, never handed out
    # the public service number residents' /r call button dials (issue 31); none: the center's duty number
    service_phone: Mapped[str | None] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # SHA-256 of the device's optional OsmAnd/Traccar token; when set, a fix must carry the token
    device_token_hash: Mapped[str | None] = mapped_column(String(64))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="专职网格员")
    shift: Mapped[str] = mapped_column(String(16), default="day")
    duty_state: Mapped[str] = mapped_column(String(16), default=DutyState.OFFLINE, index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # the latest accepted fix, kept here so "where is everyone now" is one table scan
    last_fix_at: Mapped[datetime | None]
    last_lat: Mapped[float | None]
    last_lon: Mapped[float | None]
    last_battery: Mapped[float | None]
    last_grid_id: Mapped[int | None] = mapped_column(Integer)
    grids: Mapped[list["WorkerGrid"]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class WorkerGrid(Base):
    """A worker may serve several grids; ``primary`` marks the home grid."""

    __tablename__ = "worker_grid"
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True, index=True)
    primary: Mapped[bool] = mapped_column(default=False)


class Position(Base):
    """One GPS fix. Append-only and high volume."""

    __tablename__ = "position"
    __table_args__ = (
        # dedupe key and the index for "track of a worker for a day"
        UniqueConstraint("worker_id", "fix_time", "lat", "lon", name="uq_position_fix"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"))
    fix_time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed: Mapped[float | None]       # m/s
    bearing: Mapped[float | None]
    accuracy: Mapped[float | None]    # m
    battery: Mapped[float | None]     # percent
    grid_id: Mapped[int | None] = mapped_column(Integer)
    outside: Mapped[bool] = mapped_column(default=False)  # outside the street: kept, flagged
    source: Mapped[str] = mapped_column(String(16), default="app")
    attributes: Mapped[dict[str, Any] | None]


Index("ix_position_received", Position.received_at)


class Patrol(Base):
    """A foot patrol (worker) or a mouse patrol (operator)."""

    __tablename__ = "patrol"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="foot")  # foot | mouse
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"), index=True)
    operator: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[datetime | None]
    distance_m: Mapped[float] = mapped_column(default=0.0)
    grids_covered: Mapped[list[Any]] = mapped_column(default=list)  # grid ids
    log: Mapped[list[Any]] = mapped_column(default=list)  # mouse-patrol stops


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))  # None = whole street
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # moved on by logout, password change or reset, role/jurisdiction/worker change and disabling: a session
    # begun at an older generation is refused (dashboard/principal.py)
    session_gen: Mapped[int] = mapped_column(default=0, server_default="0")


class ApiKey(Base):
    """A key for integrations and devices; only its SHA-256 is stored."""

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
