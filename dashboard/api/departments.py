"""/api/v1/departments — the maintained list of departments cases are routed to (issue 27 item 2).

Read by dispatchers, leaders and admins (a community-bound caller sees the street's and its own community's);
created, edited and deleted by admins: a street-wide admin any department, a community admin its own
community's only (the street's are read-only to it, another community's do not exist for it). Every change is
in the audit log with the fields it set. The console offers these in the dispatch box, those that take the case's
category first; ``POST /api/v1/cases/<id>/actions/dispatch`` takes ``department_id``.
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, jsonify, request
from pydantic import Field, StringConstraints, field_validator

from ..models import Role
from ..models.department import Department
from ..services import audit
from ..services import departments as svc
from ..services.cases import CaseError
from .deps import services
from ..principal import Principal, resolve_principal
from .auth import require
from .errors import ApiError
from .schemas import LEFT_OUT, Name, StrictBody, StrictBool, StrictId, fields_set

READERS = (Role.DISPATCHER, Role.LEADER)
FIELDS_SCHEMA = {  # as answered (the request bodies' schemas come from DepartmentIn and DepartmentEditIn)
    "name": {"type": "string", "minLength": 1, "maxLength": 64, "description": "unique"},
    "contact": {"type": "string", "maxLength": 128, "description": "person and phone"},
    "categories": {"type": "array", "items": {"type": "string"},
                   "description": "category codes the department takes; empty = any"},
    "community_id": {"type": "integer", "nullable": True, "description": "null: street-wide"},
    "active": {"type": "boolean"},
}
DEPARTMENT = {"type": "object", "properties": {"id": {"type": "integer"}, **FIELDS_SCHEMA,
                                               "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}


Code = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=8)]


class DepartmentEditIn(StrictBody):
    """The fields of a department to change."""

    name: Name = LEFT_OUT
    contact: str | None = Field(default=LEFT_OUT, strict=True, max_length=128,
                                description="person and phone; null: none")
    categories: list[Code] | None = Field(default=LEFT_OUT, max_length=500,
                                          description="category codes the department takes; empty or null = any")
    community_id: StrictId | None = Field(default=LEFT_OUT, description="null: street-wide")
    active: StrictBool = LEFT_OUT

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str:
        return (v or "").strip()

    @field_validator("categories")
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str]:
        return list(dict.fromkeys(v or []))  # each code once, in the order given


class DepartmentIn(DepartmentEditIn):
    """A new department (a community admin's is of its own community)."""

    name: Name


def _body() -> dict:
    body = request.get_json(silent=True) if request.data else None
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object", "body")
    return body


def _fields(s, model: type[DepartmentEditIn], body: dict) -> dict:
    """The fields ``body`` sets, in shape (the model) and naming categories and a community that exist."""
    fields = fields_set(model, body)
    try:
        svc.check_references(s, fields)
    except CaseError as e:
        raise ApiError(422, e.message, e.field)
    return fields


def _who(services) -> Principal:
    p = resolve_principal(services)
    if p is None:  # ``require`` has admitted the caller: never None here
        raise ApiError(401, "sign in or send an API key")
    return p


def _writable(p: Principal, d: Department | None, dept_id: int) -> Department:
    """The department a write may touch: another community's is a 404, the street's is a 403 to a community admin."""
    if d is None or (p.community_id is not None and d.community_id not in (None, p.community_id)):
        raise ApiError(404, f"no department {dept_id}", "id")
    if p.community_id is not None and d.community_id is None:
        raise ApiError(403, "a street-wide department is managed by a street-wide admin", "community_id")
    return d

def ip() -> str | None:
    """The caller's address, for the audit row."""
    return request.remote_addr


bp = Blueprint("departments", __name__)


@bp.get("/api/v1/departments")
@require(*READERS)
def departments_list():
    """Departments (active ones unless ``active=all``); ``category=CODE`` puts those that take it first."""
    p = _who(services())
    active = request.args.get("active", "true")
    if active not in ("true", "all"):
        raise ApiError(400, "active must be true or all", "active")
    category = request.args.get("category") or None
    if category is not None and len(category) > 8:
        raise ApiError(400, "category must be a category code", "category")
    with services().db.read() as s:
        rows = svc.listed(s, community_id=p.community_id, category=category, active_only=active == "true")
    return jsonify({"items": rows})


@bp.get("/api/v1/departments/<int:department_id>")
@require(*READERS)
def departments_get(department_id: int):
    p = _who(services())
    with services().db.read() as s:
        d = s.get(Department, department_id)
        if d is None or (p.community_id is not None and d.community_id not in (None, p.community_id)):
            raise ApiError(404, f"no department {department_id}", "id")
        return jsonify(svc.department_public(d))


@bp.post("/api/v1/departments")
@require(Role.ADMIN)
def departments_create():
    p = _who(services())
    body = _body()
    if p.community_id is not None:  # a community admin's departments are its community's
        if body.get("community_id", p.community_id) != p.community_id:
            raise ApiError(403, "a community admin adds departments of its own community only", "community_id")
        body = {**body, "community_id": p.community_id}
    with services().db.write() as s:
        fields = _fields(s, DepartmentIn, body)
        if svc.name_taken(s, fields["name"]):
            raise ApiError(409, f"a department named {fields['name']!r} exists", "name")
        d = svc.create(s, fields)
        audit.record(s, p, "department_create", f"department:{d.id}", fields, ip())
        out = svc.department_public(d)
    return jsonify(out), 201


@bp.patch("/api/v1/departments/<int:department_id>")
@require(Role.ADMIN)
def departments_edit(department_id: int):
    p = _who(services())
    body = _body()
    with services().db.write() as s:
        d = _writable(p, s.get(Department, department_id), department_id)
        fields = _fields(s, DepartmentEditIn, body)
        if p.community_id is not None and fields.get("community_id", p.community_id) != p.community_id:
            raise ApiError(403, "a community admin keeps its departments in its own community", "community_id")
        if "name" in fields and svc.name_taken(s, fields["name"], but=d.id):
            raise ApiError(409, f"a department named {fields['name']!r} exists", "name")
        svc.edit(d, fields)
        audit.record(s, p, "department_edit", f"department:{d.id}", fields, ip())
        out = svc.department_public(d)
    return jsonify(out)


@bp.delete("/api/v1/departments/<int:department_id>")
@require(Role.ADMIN)
def departments_delete(department_id: int):
    """Remove a department from the list (cases already routed to it keep its name)."""
    p = _who(services())
    with services().db.write() as s:
        d = _writable(p, s.get(Department, department_id), department_id)
        out = svc.department_public(d)
        s.delete(d)
        audit.record(s, p, "department_delete", f"department:{department_id}", {"name": out["name"]}, ip())
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    _describe(app)


def _describe(app) -> None:
    from .openapi import registry

    api = registry(app)
    ref = api.schema("Department", DEPARTMENT)
    api.add("/api/v1/departments", "get", tags=["departments"], roles=("dispatcher", "leader", "admin"),
            summary="Departments cases can be routed to (the street's and the caller's community's)",
            params=[{"name": "category", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "a category code: departments that take it first"},
                    {"name": "active", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["true", "all"]}}],
            responses={200: ("the departments", {"type": "object", "properties": {"items": {"type": "array",
                                                                                          "items": ref}}})})
    api.add("/api/v1/departments", "post", tags=["departments"], roles=("admin",),
            summary="Add a department (a community admin: of its own community)",
            body=DepartmentIn,
            responses={201: ("the department", ref), 409: "the name is taken"})
    api.add("/api/v1/departments/{department_id}", "get", tags=["departments"], roles=("dispatcher", "leader", "admin"),
            summary="One department", responses={200: ("the department", ref), 404: "no such department"})
    api.add("/api/v1/departments/{department_id}", "patch", tags=["departments"], roles=("admin",),
            summary="Edit a department's name, contact, categories, community or active flag",
            body=DepartmentEditIn,
            responses={200: ("the department", ref), 404: "no such department", 409: "the name is taken"})
    api.add("/api/v1/departments/{department_id}", "delete", tags=["departments"], roles=("admin",),
            summary="Remove a department from the list", responses={200: ("the department", ref), 404: "no such department"})
