"""Departments (职能部门): the maintained list a dispatcher routes cases to — name, contact, the categories it takes.

The edge (dashboard/api/departments.py) checks roles, jurisdiction and the bodies' shapes (pydantic models); this
module checks what the fields name exists, writes and reads.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Category, Community
from ..models.department import Department
from ..timeutil import iso, utcnow
from .cases import CaseError

def department_public(d: Department) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "contact": d.contact, "categories": list(d.categories or []),
            "community_id": d.community_id, "active": d.active, "created_at": iso(d.created_at),
            "updated_at": iso(d.updated_at)}


def check_references(session: Session, fields: dict[str, Any]) -> None:
    """The categories and the community a department's fields name exist; CaseError names the first that does not.
    (The fields' shapes are the request models' concern: dashboard/api/departments.py.)"""
    codes = fields.get("categories") or []
    known = set(session.scalars(select(Category.code).where(Category.code.in_(codes)))) if codes else set()
    missing = [c for c in codes if c not in known]
    if missing:
        raise CaseError("categories", f"unknown category {missing[0]!r}")
    v = fields.get("community_id")
    if v is not None and session.get(Community, v) is None:
        raise CaseError("community_id", f"unknown community {v}")


def name_taken(session: Session, name: str, but: int | None = None) -> bool:
    q = select(Department.id).where(Department.name == name)
    if but is not None:
        q = q.where(Department.id != but)
    return session.scalar(q) is not None


def create(session: Session, fields: dict[str, Any]) -> Department:
    now = utcnow()
    d = Department(name=fields["name"], contact=fields.get("contact", ""), categories=fields.get("categories", []),
                   community_id=fields.get("community_id"), active=fields.get("active", True),
                   created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    return d


def edit(d: Department, fields: dict[str, Any]) -> Department:
    for k, v in fields.items():
        setattr(d, k, v)
    d.updated_at = utcnow()
    return d


def listed(session: Session, *, community_id: int | None, category: str | None = None,
           active_only: bool = True) -> list[dict[str, Any]]:
    """Departments a caller of ``community_id`` (None: the street) may route to: the street's and, for a community,
    its own. With ``category``, those that take it come first (marked ``takes``); the rest follow by name."""
    q = select(Department).order_by(Department.name, Department.id)
    if community_id is not None:
        q = q.where(or_(Department.community_id.is_(None), Department.community_id == community_id))
    if active_only:
        q = q.where(Department.active.is_(True))
    rows = [department_public(d) for d in session.scalars(q)]
    if category:
        for r in rows:
            r["takes"] = not r["categories"] or category in r["categories"]
        rows.sort(key=lambda r: (not r["takes"], r["name"]))
    return rows


def routable(session: Session, department_id: int, *, community_id: int | None) -> Department | None:
    """The active department ``department_id`` when a dispatcher of ``community_id`` may route to it."""
    d = session.get(Department, department_id)
    if d is None or not d.active:
        return None
    if community_id is not None and d.community_id not in (None, community_id):
        return None
    return d
