"""网格+五治 registers: party branches and grid posts, legal staff in grids, governance
activities, and community access-control devices with their events.

Screens only ever see counts and masked identities: the registers store a member's or
staff member's name already masked (张*), never a raw name, phone or ID number.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow
from .people import BigId


class PartyBranch(Base):
    """A party branch (党支部) of a compound, a community or a resident unit."""

    __tablename__ = "party_branch"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="compound")  # compound | community | unit
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    members: Mapped[int] = mapped_column(default=0)
    central_households: Mapped[int] = mapped_column(default=0)  # 党员中心户
    secretary_masked: Mapped[str] = mapped_column(String(32), default="")


class PartyPost(Base):
    """A party member who registered to serve in a grid (报到党员认岗); identity stored masked."""

    __tablename__ = "party_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("party_branch.id"))
    member_masked: Mapped[str] = mapped_column(String(32))
    post: Mapped[str] = mapped_column(String(32))  # e.g. 楼栋协管, 文明劝导, 矛盾调解
    registered_on: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)


class LegalStaff(Base):
    """Law-enforcement or legal-service staff attached to a grid (执法力量入网, 三官一律)."""

    __tablename__ = "legal_staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # judge | prosecutor | police | lawyer | enforcement
    name_masked: Mapped[str] = mapped_column(String(32))
    organisation: Mapped[str] = mapped_column(String(128), default="")
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)


class GovernanceActivity(Base):
    """One governance activity: who, what, where, when, how many took part."""

    __tablename__ = "gov_activity"
    __table_args__ = (Index("ix_gov_activity_grid_started", "grid_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)  # see services.governance.ACTIVITY_KINDS
    dimension: Mapped[str] = mapped_column(String(12))          # party | law | virtue | self | smart
    title: Mapped[str] = mapped_column(String(128))
    organiser: Mapped[str] = mapped_column(String(128), default="")  # an organisation or office, not a person
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    legal_staff_id: Mapped[int | None] = mapped_column(ForeignKey("legal_staff.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    place_name: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    participants: Mapped[int] = mapped_column(default=0)
    volunteers: Mapped[int] = mapped_column(default=0)
    volunteer_hours: Mapped[float] = mapped_column(default=0.0)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)  # a case it settled
    source: Mapped[str] = mapped_column(String(12), default="app")  # app | import | demo | sim | api
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class AccessDevice(Base):
    """An access-control or sensor device at a compound gate; signs its webhooks with ``secret``."""

    __tablename__ = "access_device"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="door")  # door | smoke
    secret: Mapped[str] = mapped_column(String(128))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    online: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)


class DeviceEvent(Base):
    """One accepted device event; (device, event_id) is unique, so a replay is refused."""

    __tablename__ = "device_event"
    __table_args__ = (UniqueConstraint("device_pk", "event_id", name="uq_device_event_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("access_device.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))  # door_forced | door_held_open | device_offline | smoke_alarm | ...
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_s: Mapped[float | None]
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    payload: Mapped[dict[str, Any] | None]


class GovernanceTarget(Base):
    """The street's target for one 五治 indicator (services/governance_indicators.py ``INDICATORS``): a score is
    100 × value / target, capped at 100. Counts of the month are targets per grid for a whole month (pro-rated to
    the days gone and multiplied by the grids of the row); ratios are targets for the ratio itself. The migration
    writes the defaults from the demo's model; the admin API (PUT /api/v1/governance/targets/<key>) changes them."""

    __tablename__ = "governance_target"
    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    target: Mapped[float]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
