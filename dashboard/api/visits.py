"""Visits (走访) over HTTP: a worker records a visit in her grids, lists them, and turns a promised follow-up into a
case in one tap; the residents' satisfaction figures for the leader's screens (issue 31 items 3 and 4)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from ..models import Role, Visit, Worker
from ..principal import Principal, resolve_principal, scope_community
from ..services import satisfaction as sat
from ..services import visits as svc
from ..services.cases import CaseError
from ..timeutil import local_day_bounds
from .briefing import parse_day, parse_scope
from .deps import caller, services
from .auth import require
from .errors import ApiError, id_arg, int_arg
from .field import acting_worker, case_out
from .openapi import query, registry
from .schemas import StrictId, parse

RECORDERS = (Role.WORKER,)                              # a worker records her own visits
READERS = (Role.WORKER, Role.DISPATCHER, Role.LEADER)   # a worker reads hers; the others their jurisdiction's
CASE_MAKERS = (Role.WORKER, Role.DISPATCHER)            # her own visit; the centre any in its jurisdiction
FIGURE_READERS = (Role.LEADER, Role.DISPATCHER, Role.DISPLAY)
bp = Blueprint("visits", __name__)


def _text(limit: int, description: str | None = None):  # noqa: ANN202
    return Field(default=None, max_length=limit, description=description)


Text = Annotated[str, Field(strict=True)]
Coord = Annotated[float, Field(strict=True)]


class VisitIn(BaseModel):
    """A visit to record: its shape here (types, lengths, ranges); whom-or-place, something heard, the grid being
    hers and the time window are the service's (services/visits.record_visit). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    kind: Literal["household", "place"] = "household"
    whom: Text | None = _text(svc.LIMITS["whom"], "personal: stored, shown masked")
    place: Text | None = _text(svc.LIMITS["place"])
    needs: Text | None = _text(svc.LIMITS["needs"])
    opinions: Text | None = _text(svc.LIMITS["opinions"])
    follow_up: Text | None = _text(svc.LIMITS["follow_up"])
    grid_id: StrictId | None = Field(default=None, description="one of the worker's grids (default: where lat/lon "
                                                               "lies, else her home grid)")
    lat: Coord | None = Field(default=None, ge=-90, le=90)
    lon: Coord | None = Field(default=None, ge=-180, le=180)
    at: Text | None = Field(default=None, description="when, ISO 8601 with a zone (default now; within 31 days)")

    @field_validator("at")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v:
            try:
                t = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("must be an ISO 8601 time with a zone") from None
            if t.tzinfo is None:
                raise ValueError("needs a time zone (Z or +08:00)")
        return v


class VisitCaseIn(BaseModel):
    """The follow-up case of a visit: its category (default: guessed from the follow-up's text)."""

    model_config = ConfigDict(extra="ignore")

    category_code: Text | None = Field(default=None, description="小类 code, see GET /api/v1/categories/tree")


def _object(data: object) -> dict:
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object", "body")
    return data


def _scope(p: Principal) -> dict:
    """Whose visits a caller sees: a worker her own; a community-bound user the community's; the street all."""
    if p.role == Role.WORKER:
        if p.worker_id is None:
            raise ApiError(403, "this account is not linked to a grid worker")
        return {"worker_id": p.worker_id, "community_id": None}
    return {"worker_id": None, "community_id": scope_community(p)}


def _load(s, p: Principal, visit_id: int) -> Visit:
    v = s.scalar(svc.scoped(select(Visit).where(Visit.id == visit_id), **_scope(p)))
    if v is None:
        raise ApiError(404, f"no visit {visit_id}", "visit_id")
    return v


@bp.get("/api/v1/visits")
@require(*READERS)
def visits_list():
    """Visits, newest first: a day's (``day``) or the latest; filtered by ``grid_id`` / ``worker_id``."""
    p = resolve_principal(services())
    limit = int_arg(request.args, "limit", 50, lo=1, hi=500)
    grid_id, worker_id = id_arg(request.args, "grid_id"), id_arg(request.args, "worker_id")
    day: date | None = parse_day(request.args["day"]) if request.args.get("day") else None
    scope = _scope(p)
    with services().db.read() as s:
        q = svc.scoped(select(Visit), **scope)
        if grid_id is not None:
            q = q.where(Visit.grid_id == grid_id)
        if worker_id is not None:
            q = q.where(Visit.worker_id == worker_id)
        if day is not None:
            start, end = local_day_bounds(day)
            q = q.where(Visit.at >= start, Visit.at < end)
        rows = list(s.scalars(q.order_by(Visit.at.desc(), Visit.id.desc()).limit(limit)))
        return jsonify({"visits": svc.visits_public(s, rows)})


@bp.post("/api/v1/visits")
@require(*RECORDERS)
def visits_create():
    """Record a visit in one of the worker's grids."""
    p, data = resolve_principal(services()), _object(request.get_json(silent=True))
    body = parse(VisitIn, data).model_dump(exclude_none=True)
    wid = acting_worker(p, data.get("worker_id") if isinstance(data.get("worker_id"), int) else None)
    if wid is None:
        raise ApiError(422, "name the worker who visited", "worker_id")
    try:
        with services().db.write() as s:
            w = s.get(Worker, wid)
            if w is None or not w.active:
                raise ApiError(422, f"unknown worker {wid}", "worker_id")
            v = svc.record_visit(s, w, body, locator=services().locator)
            if p.community_id is not None and v.community_id not in (None, p.community_id):
                raise ApiError(403, "the grid lies outside your jurisdiction", "grid_id")
            (out,) = svc.visits_public(s, [v])
    except svc.VisitError as exc:
        raise ApiError(exc.status, exc.message, exc.field)
    return jsonify(out), 201


@bp.post("/api/v1/visits/<int:visit_id>/case")
@require(*CASE_MAKERS)
def visit_to_case(visit_id: int):
    """The visit's promised follow-up becomes a case (source app, to the centre) — once; a repeat is a 409."""
    p = caller()
    code = parse(VisitCaseIn, _object(request.get_json(silent=True) or {})).category_code
    try:
        with services().db.write() as s:
            v = _load(s, p, visit_id)
            c = svc.follow_up_case(s, v, category_code=code, locator=services().locator,
                                   actor="" if p.role == Role.WORKER else p.name)
            out = {"visit": svc.visits_public(s, [v])[0], "case": case_out(s, c)}
    except svc.FollowUpExists as exc:
        raise ApiError(409, f"the follow-up is already case {exc.case_id}", "visit_id")
    except (svc.VisitError, CaseError) as exc:
        raise ApiError(422, exc.message, exc.field)
    return jsonify(out), 201


@bp.get("/api/v1/satisfaction")
@require(*FIGURE_READERS)
def satisfaction_figures():
    """Residents' satisfaction for the ``days`` days (default 30) ending with ``day``: the scope's total, each
    community, the grids with reports."""
    day = parse_day(request.args.get("day"))
    days = int_arg(request.args, "days", sat.WINDOW_DAYS, lo=1, hi=366)
    cid = parse_scope(services(), request.args.get("community"))
    with services().db.read() as s:
        return jsonify(sat.for_day(s, day, cid, days))


VISIT_OUT = {"type": "object", "description": "a visit, whom and names masked", "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(svc.KINDS)}, "whom": {"type": "string"},
    "place": {"type": "string"}, "needs": {"type": "string"}, "opinions": {"type": "string"},
    "follow_up": {"type": "string"}, "follow_up_case_id": {"type": "integer", "nullable": True},
    "follow_up_case_code": {"type": "string", "nullable": True}, "worker_id": {"type": "integer"},
    "worker": {"type": "string", "nullable": True}, "grid_id": {"type": "integer", "nullable": True},
    "grid_code": {"type": "string", "nullable": True}, "grid_name": {"type": "string", "nullable": True},
    "community_id": {"type": "integer", "nullable": True}, "lat": {"type": "number", "nullable": True},
    "lon": {"type": "number", "nullable": True}, "at": {"type": "string"}, "created_at": {"type": "string"}}}
_NUM = {"type": "number", "nullable": True}
SAT_FIGURES = {"type": "object", "properties": {
    "reports": {"type": "integer"}, "responded": {"type": "integer"}, "awaiting": {"type": "integer"},
    "response_median_min": _NUM, "response_p90_min": _NUM, "closed": {"type": "integer"},
    "answered": {"type": "integer"}, "answered_share": _NUM, "satisfied": {"type": "integer"},
    "basic": {"type": "integer"}, "unsatisfied": {"type": "integer"}, "satisfied_share": _NUM,
    "rework": {"type": "integer"}}}


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    visit_ref = api.schema("VisitOut", VISIT_OUT)
    figures_ref = api.schema("SatisfactionFigures", SAT_FIGURES)
    t = ["visits"]
    api.add("/api/v1/visits", "get", tags=t, roles=READERS,
            summary="Visits (走访), newest first: a worker's own, a community user's community's, else the street's",
            params=[query("day", description="YYYY-MM-DD (Asia/Shanghai)"), query("grid_id", "integer", minimum=1),
                    query("worker_id", "integer", minimum=1), query("limit", "integer", minimum=1, maximum=500)],
            responses={200: ("visits", {"type": "object", "properties": {
                "visits": {"type": "array", "items": visit_ref}}})})
    api.add("/api/v1/visits", "post", tags=t, roles=RECORDERS, body=VisitIn,
            summary="Record a household or place visit in one of the worker's grids",
            responses={201: ("the visit", visit_ref), 403: "a grid that is not hers"})
    api.add("/api/v1/visits/{visit_id}/case", "post", tags=t, roles=CASE_MAKERS,
            body=VisitCaseIn,
            summary="Turn the visit's promised follow-up into a case (once)",
            responses={201: ("the visit and its case", {"type": "object", "properties": {
                "visit": visit_ref, "case": {"$ref": "#/components/schemas/CaseOut"}}}),
                404: "no such visit of yours", 409: "already a case"})
    api.add("/api/v1/satisfaction", "get", tags=["briefing"], roles=FIGURE_READERS,
            summary="Residents' satisfaction: response time, share closed to their satisfaction, rework from 不满意",
            params=[query("day", description="the period's last day, YYYY-MM-DD; default today"),
                    query("days", "integer", minimum=1, maximum=366),
                    query("community", description="a community id, or street")],
            responses={200: ("figures", {"type": "object", "properties": {
                "total": figures_ref, "communities": {"type": "array", "items": figures_ref},
                "grids": {"type": "array", "items": figures_ref}, "days": {"type": "integer"},
                "first_day": {"type": "string"}, "last_day": {"type": "string"},
                "community_id": {"type": "integer", "nullable": True}}}), 404: "no such community"})
