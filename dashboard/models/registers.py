"""Per-grid registers: places and units, cameras, organisations, residents, contacts."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Place(Base):
    """A compound, building, shop, unit, office building or business (实有房屋/实有单位)."""

    __tablename__ = "place"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(128))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    address: Mapped[str] = mapped_column(String(256), default="")
    households: Mapped[int | None]
    floors: Mapped[int | None]


class Camera(Base):
    __tablename__ = "camera"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    kind: Mapped[str] = mapped_column(String(16), default="")
    stream_url: Mapped[str] = mapped_column(String(512), default="")
    online: Mapped[bool] = mapped_column(default=True)


class Organisation(Base):
    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="")
    brand: Mapped[str] = mapped_column(String(64), default="")
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    members: Mapped[int] = mapped_column(default=0)
    founded: Mapped[str | None] = mapped_column(String(10))


class ResidentCount(Base):
    """Resident counts by category (实有人口): counts only, never personal records."""

    __tablename__ = "resident_count"
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class Contact(Base):
    """A 五级联动 contact: street, community, compound, building head, party household."""

    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
