"""Mouse-patrol tours over HTTP: build/generate, list, run (start, mark a stop, pause, finish), log, coverage."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from ..models import Grid, PatrolTour, Role
from ..services import tours as svc
from ..services.cases import CaseError, case_public
from ..timeutil import local_today
from .deps import caller, services
from .auth import require
from ..principal import resolve_principal, scope_community
from .errors import ApiError, id_arg, int_arg
from .openapi import query, registry
from .schemas import StrictBool

OPERATORS = (Role.DISPATCHER,)
READERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY)

# JSON's own types (no "1" for 1, no true for 1), as the hand-written checks these replace had it; fields not
# listed are ignored, as they always were
Int = Annotated[int, Field(strict=True)]
Seconds = Annotated[float, Field(strict=True, ge=1, le=3600)]
Text = Annotated[str, Field(strict=True)]


class TourBody(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TourStopIn(TourBody):
    """One stop of a tour: a grid, its cameras (default: the grid's own) and how long to look."""

    grid_id: Int = Field(description="a grid id (GET /api/v1/grids)")
    camera_ids: list[Int] | None = Field(default=None, description="cameras of that grid; default its own")
    dwell_s: Seconds = Field(default=svc.DEFAULT_DWELL_S, description="seconds at this stop")


class TourIn(TourBody):
    """A tour to save: a name and its stops, in order."""

    name: Text = ""
    stops: list[TourStopIn] = Field(min_length=1, max_length=svc.MAX_STOPS)


class TourGenerateIn(TourBody):
    """A tour to generate and save."""

    kind: Literal[svc.GENERATORS] = Field(  # type: ignore[valid-type]
        description="open_cases: the grids with most open cases; unpatrolled: not patrolled today; "
                    "community: a community's grids")
    limit: Int = Field(default=10, ge=1, le=svc.MAX_STOPS)
    dwell_s: Annotated[float, Field(strict=True)] = svc.DEFAULT_DWELL_S
    community_id: Int | None = Field(default=None, description="for kind community (a community operator's: its own)")
    name: Text | None = Field(default=None, description="default: the kind's name and today's date")


class TourPauseIn(TourBody):
    reason: Text = Field(default="", description="why (kept to 200 characters), e.g. alert:17")


class TourMarkIn(TourBody):
    """A stop logged: ok (巡查正常) or issue (发现问题 → a prefilled case at that grid)."""

    result: Literal[svc.RESULTS] = Field(description="ok | issue")  # type: ignore[valid-type]
    note: Text = Field(default="", description="what was seen")
    auto: StrictBool = Field(default=False, description="logged by the tour's timer, not by hand")
    category_code: Text | None = Field(default=None, description="小类 of the case an issue opens")


def _where(loc: tuple) -> str:
    """stops[0].grid_id: the field path the service's own messages use."""
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _body(model: type[TourBody], *, optional: bool = False):
    """The body checked by ``model``: no JSON object is a 400, a bad field a 422 naming it."""
    data = request.get_json(silent=True)
    if data is None and optional:
        data = {}
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(err["loc"])
        raise ApiError(422, f"{where}: {err['msg'].removeprefix('Value error, ')}", where)


def _day(raw: str | None) -> date:
    if not raw:
        return local_today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"day must be YYYY-MM-DD, got {raw!r}", "day")


def _stops_in_jurisdiction(s, stops, community_id: int | None) -> None:
    """A community's operator builds tours of its own grids only: 403 naming the first stop outside it."""
    if community_id is None or not isinstance(stops, list):
        return  # the shape of stops is checked by services.tours
    asked = [st.get("grid_id") if isinstance(st, dict) else None for st in stops]
    comm = dict(s.execute(select(Grid.id, Grid.community_id).where(
        Grid.id.in_([g for g in asked if isinstance(g, int)]))).all())
    for i, gid in enumerate(asked):
        if gid in comm and comm[gid] != community_id:
            raise ApiError(403, f"grid {gid} is outside your jurisdiction", f"stops[{i}].grid_id")
bp = Blueprint("tours", __name__)


def load(s, tour_id: int) -> PatrolTour:
    """The tour; 404 also for a community operator naming a tour that is not wholly in its community."""
    t = s.get(PatrolTour, tour_id)
    comm = scope_community(resolve_principal(services()))
    if t is None or (comm is not None and svc.tour_community(t, svc.grids_of(s, [t])) != comm):
        raise ApiError(404, f"no tour {tour_id}", "tour_id")
    return t


def out(s, t: PatrolTour) -> dict:
    return svc.tour_public(t, svc.grids_of(s, [t]))


def guarded(fn):
    """Domain errors → 4xx; nothing is committed when one is raised."""
    try:
        return fn()
    except (svc.TourError, CaseError) as exc:
        raise ApiError(422, exc.message, exc.field)
    except svc.TourStateError as exc:
        raise ApiError(409, str(exc))


@bp.get("/api/v1/tours")
@require(*READERS)
def tours_list():
    """The newest 100 tours; for a community operator, those wholly inside its community."""
    with services().db.read() as s:
        rows, grids = svc.tours_of(s, community_id=scope_community(resolve_principal(services())), limit=100)
        return jsonify({"tours": [svc.tour_public(t, grids) for t in rows]})


@bp.post("/api/v1/tours")
@require(*OPERATORS)
def tours_create():
    body, p = _body(TourIn), resolve_principal(services())
    who, stops = p.name, body.model_dump(exclude_unset=True)["stops"]

    def create():
        with services().db.write() as s:
            _stops_in_jurisdiction(s, stops, scope_community(p))
            t = svc.create_tour(s, name=body.name, stops=stops, created_by=who)
            return out(s, t)

    return jsonify(guarded(create)), 201


@bp.post("/api/v1/tours/generate")
@require(*OPERATORS)
def tours_generate():
    """Generate and save a tour: kind open_cases | unpatrolled | community (a community operator's: its own)."""
    body, p = _body(TourGenerateIn), resolve_principal(services())
    who, kind, limit, dwell, comm = p.name, body.kind, body.limit, body.dwell_s, body.community_id
    if p.community_id is not None and comm not in (None, p.community_id):
        raise ApiError(403, f"community {comm} is outside your jurisdiction", "community_id")
    comm = scope_community(p, comm)

    def generate():
        with services().db.write() as s:
            stops = svc.generate_stops(s, kind, limit=limit, community_id=comm, dwell_s=dwell)
            if not stops:
                raise svc.TourError("kind", "no grid matches; nothing to patrol")
            name = body.name or f"{svc.GENERATED_NAMES.get(kind, kind)} {local_today().isoformat()}"
            t = svc.create_tour(s, name=name, stops=stops, created_by=who, kind=kind)
            return out(s, t)

    return jsonify(guarded(generate)), 201


@bp.get("/api/v1/tours/<int:tour_id>")
@require(*READERS)
def tour_get(tour_id: int):
    with services().db.read() as s:
        t = load(s, tour_id)
        return jsonify({**out(s, t), "log": svc.stop_log(s, tour_id=tour_id)})


@bp.delete("/api/v1/tours/<int:tour_id>")
@require(*OPERATORS)
def tour_delete(tour_id: int):
    with services().db.write() as s:
        t = load(s, tour_id)
        if t.state in ("running", "paused"):
            raise ApiError(409, f"tour {tour_id} is {t.state}; finish it first")
        s.delete(t)
    return "", 204


def action(tour_id: int, fn):
    def run():
        with services().db.write() as s:
            t = load(s, tour_id)
            fn(s, t)
            return out(s, t)

    return jsonify(guarded(run))


@bp.post("/api/v1/tours/<int:tour_id>/start")
@require(*OPERATORS)
def tour_start(tour_id: int):
    who = caller().name
    return action(tour_id, lambda s, t: svc.start_tour(s, t, operator=who))


@bp.post("/api/v1/tours/<int:tour_id>/pause")
@require(*OPERATORS)
def tour_pause(tour_id: int):
    reason = _body(TourPauseIn, optional=True).reason[:200]
    return action(tour_id, lambda s, t: svc.pause_tour(s, t, reason=reason))


@bp.post("/api/v1/tours/<int:tour_id>/resume")
@require(*OPERATORS)
def tour_resume(tour_id: int):
    return action(tour_id, lambda s, t: svc.pause_tour(s, t, resume=True))


@bp.post("/api/v1/tours/<int:tour_id>/finish")
@require(*OPERATORS)
def tour_finish(tour_id: int):
    return action(tour_id, lambda s, t: svc.finish_tour(s, t))


@bp.post("/api/v1/tours/<int:tour_id>/stops/<int:index>")
@require(*OPERATORS)
def tour_mark(tour_id: int, index: int):
    """Log a stop: result ok (巡查正常) or issue (发现问题 → a prefilled case at that grid)."""
    body, who = _body(TourMarkIn), caller().name

    def mark():
        with services().db.write() as s:
            t = load(s, tour_id)
            entry, case = svc.mark_stop(s, t, index, result=body.result, operator=who, note=body.note,
                                        auto=body.auto, category_code=body.category_code,
                                        locator=services().locator)
            grid = s.get(Grid, entry.grid_id)
            return {"stop": svc.stop_log_public(entry, grid), "tour": out(s, t),
                    "case": case_public(case, grid=grid) if case else None}

    return jsonify(guarded(mark)), 201


@bp.get("/api/v1/patrol/log")
@require(*READERS)
def patrol_log():
    """A day's logged stops, of the caller's community's grids for a community operator."""
    day = _day(request.args.get("day"))
    limit = int_arg(request.args, "limit", 200, lo=1, hi=2000)
    comm = scope_community(resolve_principal(services()))
    with services().db.read() as s:
        return jsonify({"day": day.isoformat(), "log": svc.stop_log(s, day=day, community_id=comm, limit=limit)})


@bp.get("/api/v1/patrol/coverage")
@require(*READERS)
def patrol_coverage():
    """Per grid for a day: foot patrols (workers seen there) and mouse patrols (stops logged)."""
    day = _day(request.args.get("day"))
    comm = id_arg(request.args, "community_id")
    with services().db.read() as s:
        rows = svc.coverage(s, day, community_id=comm)
    return jsonify({"day": day.isoformat(), "grids": rows,
                    "totals": {"grids": len(rows), "foot": sum(1 for r in rows if r["foot"]),
                               "mouse": sum(1 for r in rows if r["mouse"]),
                               "none": sum(1 for r in rows if not r["foot"] and not r["mouse"])}})


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    t = ["patrol"]
    api.add("/api/v1/tours", "get", tags=t, roles=READERS, summary="Mouse-patrol tours, newest first")
    api.add("/api/v1/tours", "post", tags=t, roles=OPERATORS, summary="Save a tour: name, stops [{grid_id, "
            "camera_ids?, dwell_s?}]", body=TourIn, responses={201: "the tour"})
    api.add("/api/v1/tours/generate", "post", tags=t, roles=OPERATORS, body=TourGenerateIn,
            summary="Generate a tour: kind open_cases | unpatrolled | community (community_id), limit, dwell_s",
            responses={201: "the tour"})
    api.add("/api/v1/tours/{tour_id}", "get", tags=t, roles=READERS, summary="A tour with its stop log")
    api.add("/api/v1/tours/{tour_id}", "delete", tags=t, roles=OPERATORS, summary="Delete a tour that is not running",
            responses={204: "deleted", 409: "running"})
    for verb, what in (("start", "Start a tour"), ("pause", "Pause a running tour (e.g. on a new alert)"),
                       ("resume", "Resume a paused tour"), ("finish", "Finish a tour early")):
        api.add(f"/api/v1/tours/{{tour_id}}/{verb}", "post", tags=t, roles=OPERATORS, summary=what,
                responses={200: "the tour", 409: "the tour's state does not allow it"})
    api.add("/api/v1/tours/{tour_id}/stops/{index}", "post", tags=t, roles=OPERATORS, body=TourMarkIn,
            summary="Log a stop: result ok | issue (issue opens a case at that grid), note, category_code?",
            responses={201: "the log entry (and the case)", 409: "tour not running"})
    api.add("/api/v1/patrol/log", "get", tags=t, roles=READERS, summary="Mouse-patrol stops of a day",
            params=[query("day", description="YYYY-MM-DD (Asia/Shanghai); default today"), query("limit", "integer")])
    api.add("/api/v1/patrol/coverage", "get", tags=t, roles=READERS,
            summary="Per-grid daily coverage: foot and mouse patrols side by side",
            params=[query("day", description="YYYY-MM-DD; default today"), query("community_id", "integer")])
