"""Departments a case can be routed to (职能部门): a maintained list instead of free text on the console."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow


class Department(Base):
    """A department: its name, how to reach it, and the category codes it takes (empty = any).

    ``community_id`` None is a street-wide department; a community's own departments are managed by that
    community's admin and offered to that community's dispatchers (and the street's).
    """

    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    contact: Mapped[str] = mapped_column(String(128), default="")
    categories: Mapped[list[Any]] = mapped_column(default=list)  # category codes ("0401", …)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
