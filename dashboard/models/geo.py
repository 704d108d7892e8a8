"""Street → community → grid."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from ..db import Base


class Street(Base):
    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(64), default="")
    city: Mapped[str] = mapped_column(String(64), default="")
    boundary: Mapped[dict[str, Any] | None]  # GeoJSON geometry, WGS-84
    communities: Mapped[list["Community"]] = relationship(back_populates="street", lazy="selectin",
                                                          order_by="Community.code")


class Community(Base):
    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    boundary: Mapped[dict[str, Any] | None]
    street: Mapped[Street] = relationship(back_populates="communities", lazy="joined")
    grids: WriteOnlyMapped["Grid"] = relationship(back_populates="community")


class Grid(Base):
    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(default=3)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    boundary: Mapped[dict[str, Any]]  # GeoJSON Polygon, WGS-84 lon/lat
    centroid_lat: Mapped[float]
    centroid_lon: Mapped[float]
    area_m2: Mapped[float] = mapped_column(default=0.0)
    community: Mapped[Community] = relationship(back_populates="grids", lazy="joined")
