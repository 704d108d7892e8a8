"""/api/v1 case operations for the center: closed-loop actions, recommendations, duplicates, indicators,
and the category catalogue (time limits).

Time: every service call takes ``now=services_now(services)``; ``services.clock`` (a callable returning
an aware datetime) lets tests and replays control it.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
import re
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints
from sqlalchemy import select

from ..masking import mask_name
from ..models import Case, Category, Dispatch, Grid, Role, Worker
from ..services.cases import TRANSITIONS, CaseError, IllegalTransition, case_public, legal_actions, transition
from ..services.departments import routable
from ..services.dispatch import recommend_for_case
from ..services.triage import guess_category, outside_distance, triage_case
from ..services.duplicates import find_duplicates, merge_cases
from ..services.indicators import LEVELS, compute_indicators
from ..services.name_index import known_names
from ..timeutil import SHANGHAI, iso, utcnow
from .deps import caller, services
from ..principal import Principal, record_in_scope, scope_community
from .auth import require
from .errors import ApiError, int_arg
from .schemas import LEFT_OUT, Name, StrictBool, StrictId, fields_set, parse

CENTER = (Role.DISPATCHER,)
WORKER_ACTIONS = {"acknowledge", "arrive", "handle", "feedback"}
READERS = (Role.DISPATCHER, Role.LEADER)


def services_now(services) -> datetime:
    """The current time as the services see it (``services.clock`` when a test or replay sets one)."""
    clock = getattr(services, "clock", None)
    return clock() if clock else utcnow()


def json_body() -> dict[str, Any]:
    """The JSON object body, {} when empty; anything else is a 400."""
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object", "body")
    return body


def _blank(v: object) -> object:
    """A null text is an empty one (the console sends null for a note left empty)."""
    return "" if v is None else v


def _id_or_none(v: object) -> object:
    """An id as a number or as plain digits ("12"); null or "" is none."""
    if v is None or v == "":
        return None
    if isinstance(v, str) and _DIGITS.fullmatch(v):
        return int(v)
    return v


_DIGITS = re.compile(r"-?[0-9]{1,20}")
# a text: null is "", at most N characters as sent, stored without the spaces around it
Note = Annotated[str, StringConstraints(strict=True, max_length=2000), BeforeValidator(_blank), AfterValidator(str.strip)]
Code = Annotated[str, StringConstraints(strict=True, max_length=8), BeforeValidator(_blank), AfterValidator(str.strip)]
DepartmentName = Annotated[str, StringConstraints(strict=True, max_length=64), BeforeValidator(_blank),
                           AfterValidator(str.strip)]
OptionalId = Annotated[StrictId | None, BeforeValidator(_id_or_none)]
RequiredId = Annotated[StrictId, BeforeValidator(_id_or_none)]


class CaseActionIn(BaseModel):
    """A closed-loop action's body (unknown keys are ignored, as they always were)."""

    note: Note = ""
    worker_id: OptionalId = Field(default=None, description="dispatch: the worker")
    department_id: OptionalId = Field(default=None, description="dispatch: one of /api/v1/departments")
    department: DepartmentName = Field(default="", description="dispatch: a department by name (free text)")


class TriageIn(BaseModel):
    category_code: Code = Field(default="", description="the new category (priority and deadline follow)")
    grid_id: OptionalId = Field(default=None, description="place the case in this grid by hand")
    note: Note = ""


class MergeIn(BaseModel):
    into: RequiredId = Field(description="the case this duplicate is merged into")
    note: Note = ""


def _local_day(raw: str | None, name: str, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(400, f"{name} must be a date like 2026-11-29, got {raw!r}", name)


def case_view(session, c: Case, *, locator=None) -> dict[str, Any]:
    """A case with its timeline, dispatches, the actions its state allows (masked), its best-guess category and,
    located outside the street, how far from the nearest grid."""
    ids = {i for i in (c.reporter_worker_id, c.assigned_worker_id) if i}
    disp = session.scalars(select(Dispatch).where(Dispatch.case_id == c.id).order_by(Dispatch.id)).all()
    ids |= {d.worker_id for d in disp if d.worker_id}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(ids))).all()) if ids else {}
    out = case_public(c, grid=session.get(Grid, c.grid_id) if c.grid_id else None, worker_names=names, detail=True)
    out["dispatches"] = [{"id": d.id, "worker_id": d.worker_id, "worker": mask_name(names.get(d.worker_id)),
                          "department": d.department, "by": known_names(session).mask(d.by), "state": d.state,
                          "sent_at": iso(d.sent_at),
                          "acknowledged_at": iso(d.acknowledged_at), "arrived_at": iso(d.arrived_at),
                          "done_at": iso(d.done_at)} for d in disp]
    out["actions"] = legal_actions(c)
    out["merged_into_id"] = c.merged_into_id
    out["category_guess"] = guess_category(session, c.description or "")
    if c.outside and out.get("outside_m") is None:
        out["nearest_grid_id"], out["outside_m"] = outside_distance(c, locator)
    near = session.get(Grid, out["nearest_grid_id"]) if out.get("nearest_grid_id") else None
    out["nearest_grid_name"] = near.name if near else None
    return out
bp = Blueprint("cases_ops", __name__)


def get_case(s, case_id: int) -> Case:
    c = s.get(Case, case_id)
    if c is None:
        raise ApiError(404, f"no case {case_id}", "id")
    return c


def check_scope(p: Principal, c: Case) -> None:
    if p.community_id is not None and c.community_id not in (None, p.community_id):
        raise ApiError(404, f"no case {c.id}", "id")


@bp.post("/api/v1/cases/<int:case_id>/actions/<action>")
@require(Role.DISPATCHER, Role.WORKER)
def case_action(case_id: int, action: str):
    """Apply one closed-loop action; 409 when the case's state does not allow it."""
    p = caller()
    if action not in TRANSITIONS:
        raise ApiError(400, f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}", "action")
    body = parse(CaseActionIn, json_body(), status=400)
    note, department = body.note, body.department or None
    worker_id, department_id = body.worker_id, body.department_id
    with services().db.write() as s:
        c = get_case(s, case_id)
        check_scope(p, c)
        if department_id is not None:  # one of the maintained list (the street's or the case's community's)
            d = routable(s, department_id, community_id=p.community_id or c.community_id)
            if d is None:
                raise ApiError(400, f"unknown department {department_id}", "department_id")
            department = d.name
        if p.role == Role.WORKER:
            if action not in WORKER_ACTIONS:
                raise ApiError(403, f"a grid worker may not {action} a case", "action")
            if p.worker_id is None or c.assigned_worker_id != p.worker_id:
                raise ApiError(403, "this case is not assigned to you", "id")
        if worker_id is not None and not record_in_scope(s, p, "worker_id", worker_id):
            # another community's worker is answered as unknown: it is neither dispatched nor revealed
            raise ApiError(400, f"unknown worker {worker_id}", "worker_id")
        try:
            transition(s, c, action, actor=p.name, note=note, worker_id=worker_id, department=department,
                       calendar=services().calendar, now=services_now(services()))
        except IllegalTransition as e:
            raise ApiError(409, str(e), "action")
        except CaseError as e:
            raise ApiError(400, e.message, e.field)
        out = case_view(s, c)
    return jsonify(out)


@bp.post("/api/v1/cases/<int:case_id>/triage")
@require(*CENTER)
def case_triage(case_id: int):
    """Change the category (priority and deadline follow it) and/or place the case in a grid by hand:
    JSON {category_code?, grid_id?, note?}."""
    p = caller()
    body = parse(TriageIn, json_body(), status=400)
    category_code, grid_id, note = body.category_code or None, body.grid_id, body.note
    with services().db.write() as s:
        c = get_case(s, case_id)
        check_scope(p, c)
        if grid_id is not None and not record_in_scope(s, p, "grid_id", grid_id):
            raise ApiError(400, f"unknown grid {grid_id}", "grid_id")  # another community's grid: unknown
        try:
            triage_case(s, c, actor=p.name, category_code=category_code, grid_id=grid_id, note=note,
                        calendar=services().calendar, now=services_now(services()))
        except IllegalTransition as e:
            raise ApiError(409, str(e), "id")
        except CaseError as e:
            raise ApiError(400, e.message, e.field)
        out = case_view(s, c, locator=services().locator)
    return jsonify(out)


@bp.get("/api/v1/categories/guess")
@require(*CENTER)
def category_guess():
    """The best-guess category for a text and/or an alert kind (what triage preselects); code null: no guess."""
    text = request.args.get("text", "")[:4000]
    kind = request.args.get("kind") or None
    with services().db.read() as s:
        return jsonify({"code": guess_category(s, text, kind)})


@bp.get("/api/v1/cases/<int:case_id>/recommendations")
@require(*CENTER)
def case_recommendations(case_id: int):
    """The nearest available workers for this case (distance, duty state, load)."""
    limit = int_arg(request.args, "limit", 5, lo=1, hi=50)
    with services().db.read() as s:
        p = caller()
        c = get_case(s, case_id)
        check_scope(p, c)
        return jsonify({"case_id": c.id, "workers": recommend_for_case(s, c, limit=limit,
                                                                     community_id=scope_community(p))})


@bp.get("/api/v1/cases/<int:case_id>/duplicates")
@require(*CENTER)
def case_duplicates(case_id: int):
    """Cases of the same category within 50 m and 24 h."""
    p = caller()
    with services().db.read() as s:
        c = get_case(s, case_id)
        check_scope(p, c)
        return jsonify({"case_id": c.id, "duplicates": find_duplicates(s, c, community_id=scope_community(p))})


@bp.post("/api/v1/cases/<int:case_id>/merge")
@require(*CENTER)
def case_merge(case_id: int):
    """Merge this case (a duplicate) into ``into``: JSON {into, note}."""
    p = caller()
    body = parse(MergeIn, json_body(), status=400)
    into_id, note = body.into, body.note
    with services().db.write() as s:
        dup = get_case(s, case_id)
        check_scope(p, dup)
        if not record_in_scope(s, p, "case_id", into_id):  # another community's case is answered as unknown
            raise ApiError(400, f"no case {into_id}", "into")
        into = s.get(Case, into_id)
        try:
            merge_cases(s, dup, into, actor=p.name, note=note, now=services_now(services()))
        except IllegalTransition as e:
            raise ApiError(409, str(e), "id")
        except CaseError as e:
            raise ApiError(400, e.message, e.field)
        out = case_view(s, into)
    return jsonify(out)


@bp.get("/api/v1/cases/<int:case_id>/view")
@require(*CENTER, Role.LEADER)
def case_console_view(case_id: int):
    """The console's view of a case: timeline, dispatches, legal actions."""
    with services().db.read() as s:
        c = get_case(s, case_id)
        check_scope(caller(), c)
        return jsonify(case_view(s, c, locator=services().locator))


@bp.get("/api/v1/indicators")
@require(*READERS)
def indicators():
    """结案率, 按期结案率, 返工率, 自行处置率, handling time per level for [from, to] (local days)."""
    level = request.args.get("level", "street")
    if level not in LEVELS:
        raise ApiError(400, f"level must be one of {', '.join(LEVELS)}", "level")
    today = services_now(services()).astimezone(SHANGHAI).date()
    d_from = _local_day(request.args.get("from"), "from", today.replace(day=1))
    d_to = _local_day(request.args.get("to"), "to", today)
    if d_to < d_from:
        raise ApiError(400, "to must not be before from", "to")
    if (d_to - d_from).days > 3660:
        raise ApiError(400, "the period may be at most ten years", "to")
    start = datetime.combine(d_from, datetime.min.time(), tzinfo=SHANGHAI)
    end = datetime.combine(d_to + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    p = caller()
    with services().db.read() as s:
        rows = compute_indicators(s, level=level, start=start, end=end, calendar=services().calendar,
                                  community_id=p.community_id)
    return jsonify({"level": level, "from": d_from.isoformat(), "to": d_to.isoformat(), "rows": rows})


@bp.get("/api/v1/categories")
@require(Role.DISPATCHER, Role.LEADER, Role.WORKER, Role.INTEGRATION)
def categories():
    """The two-level category catalogue with time limits: ``clock`` natural (urgent: hours around the clock
    from the report) or working (office hours on the working calendar from the first dispatch)."""
    with services().db.read() as s:
        rows = s.scalars(select(Category).order_by(Category.code)).all()
        return jsonify({"items": [category_public(c) for c in rows]})


class CategoryEditIn(BaseModel):
    """A category's fields to change (the street's catalogue)."""

    time_limit_hours: float = Field(default=LEFT_OUT, strict=True, gt=0, le=24 * 365, allow_inf_nan=False,
                                    description="hours to close, on the category's clock")
    clock: Literal["natural", "working"] = Field(
        default=LEFT_OUT, description="natural: hours around the clock from the report; working: office hours on "
                                      "the working calendar from the first dispatch")
    default_priority: int = Field(default=LEFT_OUT, strict=True, ge=1, le=4, description="1 urgent … 4 low")
    active: StrictBool = LEFT_OUT
    name: Name = LEFT_OUT


@bp.patch("/api/v1/categories/<code>")
@require(Role.ADMIN)
def edit_category(code: str):
    """Admin edit: time_limit_hours, clock, default_priority, active, name."""
    if caller().community_id is not None:  # one catalogue and its time limits for the street
        raise ApiError(403, "the category catalogue is the street's: only a street-wide admin edits it", "code")
    raw = json_body()
    unknown = set(raw) - set(CategoryEditIn.model_fields)
    if unknown:
        f = sorted(unknown)[0]
        raise ApiError(400, f"{f} cannot be edited here", f)
    body = fields_set(CategoryEditIn, raw, status=400)
    with services().db.write() as s:
        c = s.get(Category, code)
        if c is None:
            raise ApiError(404, f"no category {code}", "code")
        for k, v in body.items():
            setattr(c, k, v)
        out = category_public(c)
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    _describe(app)


def category_public(c: Category) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "major_code": c.major_code, "major_name": c.major_name,
            "time_limit_hours": c.time_limit_hours, "clock": c.clock, "default_priority": c.default_priority,
            "active": c.active, "keywords": [k for k in (c.keywords or "").split(";") if k]}


def _describe(app) -> None:
    try:
        from .openapi import registry
    except ImportError:  # the OpenAPI document is optional
        return
    api = registry(app)
    api.add("/api/v1/cases/{case_id}/actions/{action}", "post", tags=["cases"], roles=("dispatcher", "worker"),
            summary="Apply a closed-loop action (register, dispatch, acknowledge, arrive, handle, feedback, "
                    "approve, reject, escalate, void, redispatch, evaluate)", body=CaseActionIn,
            responses={200: "the case with its timeline", 404: "no such case",
                       409: "the case's state does not allow this action"})
    api.add("/api/v1/cases/{case_id}/triage", "post", tags=["cases"], roles=("dispatcher",),
            summary="Triage: change the category (priority and deadline follow) and/or place the case in a grid",
            body=TriageIn,
            responses={200: "the case", 404: "no such case", 409: "the case is closed or void"})
    api.add("/api/v1/categories/guess", "get", tags=["categories"], roles=("dispatcher",),
            summary="The best-guess category for a report's text or an alert's kind",
            params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("text", "kind")])
    api.add("/api/v1/cases/{case_id}/recommendations", "get", tags=["cases"], roles=("dispatcher",),
            summary="Nearest available workers for a case")
    api.add("/api/v1/cases/{case_id}/duplicates", "get", tags=["cases"], roles=("dispatcher",),
            summary="Same category within 50 m and 24 h")
    api.add("/api/v1/cases/{case_id}/merge", "post", tags=["cases"], roles=("dispatcher",),
            summary="Merge a duplicate into another case", body=MergeIn)
    api.add("/api/v1/cases/{case_id}/view", "get", tags=["cases"], roles=("dispatcher", "leader"),
            summary="A case with dispatches and the actions its state allows")
    api.add("/api/v1/indicators", "get", tags=["indicators"], roles=("dispatcher", "leader"),
            summary="Closed-loop indicators per grid, community, street, worker or category",
            params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("level", "from", "to")])
    api.add("/api/v1/categories", "get", tags=["categories"],
            summary="Category catalogue with time limits and their clock (natural hours or working hours)")
    api.add("/api/v1/categories/{code}", "patch", tags=["categories"], roles=("admin",),
            summary="Edit a category's time limit, clock, priority, name or active flag",
            body=CategoryEditIn)
