"""Departments (职能部门): the maintained list a dispatcher routes cases to — name, contact, the categories it takes.

The edge (dashboard/api/departments.py) checks roles and jurisdiction; this module validates and reads.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Category, Community
from ..models.department import Department
from ..timeutil import iso, utcnow
from .cases import CaseError

FIELDS = ("name", "contact", "categories", "community_id", "active")


def department_public(d: Department) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "contact": d.contact, "categories": list(d.categories or []),
            "community_id": d.community_id, "active": d.active, "created_at": iso(d.created_at),
            "updated_at": iso(d.updated_at)}


def validate(session: Session, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The fields of a create (``partial`` False: name required) or an edit; CaseError names a bad field."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise CaseError(unknown[0], f"{unknown[0]} is not a department field; fields: {', '.join(FIELDS)}")
    out: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CaseError("name", "name is required (a non-empty string)")
        if len(name.strip()) > 64:
            raise CaseError("name", "name must be at most 64 characters")
        out["name"] = name.strip()
    if "contact" in body:
        v = body["contact"]
        if v is None:
            v = ""
        if not isinstance(v, str) or len(v) > 128:
            raise CaseError("contact", "contact must be a string of at most 128 characters")
        out["contact"] = v.strip()
    if "categories" in body:
        v = body["categories"]
        if v is None:
            v = []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v) or len(v) > 500:
            raise CaseError("categories", "categories must be a list of category codes")
        codes = list(dict.fromkeys(x.strip() for x in v))
        known = set(session.scalars(select(Category.code).where(Category.code.in_(codes)))) if codes else set()
        missing = [c for c in codes if c not in known]
        if missing:
            raise CaseError("categories", f"unknown category {missing[0]!r}")
        out["categories"] = codes
    if "community_id" in body:
        v = body["community_id"]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise CaseError("community_id", "community_id must be an integer or null (street-wide)")
        if v is not None and session.get(Community, v) is None:
            raise CaseError("community_id", f"unknown community {v}")
        out["community_id"] = v
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise CaseError("active", "active must be true or false")
        out["active"] = body["active"]
    return out


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
