"""网格+五治 over HTTP: the indicators, the wall panel data, activity entry and import."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, Field

from ..i18n import normalise_lang
from ..models import Role
from ..services.governance import (ActivityOutside, ActivityProblem, activity_public, compute_indicators,
                                   create_activity, import_activities, panel_data, read_activity_table)
from ..services.governance_indicators import BY_KEY, INDICATORS, LEVELS, targets
from ..services.importers import TableTooLarge
from .deps import services
from .auth import require
from ..principal import scope_community
from .errors import ApiError, int_arg
from .schemas import parse

READERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY, Role.WORKER)


def _day(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"day must be YYYY-MM-DD, got {raw!r}", "day")


def _who() -> str:
    p = g.get("principal")
    return p.name if p is not None else ""
bp = Blueprint("governance", __name__)


@bp.get("/api/v1/governance/indicators")
@require(*READERS)
def governance_indicators():
    """The 五治 indicators per street, community or grid (``level``), month to date of ``day``, each with its raw
    value, the figure its target expects and its 0–100 score; ``previous=1`` adds last month's (to its last day)."""
    level = request.args.get("level", "street")
    if level not in LEVELS:
        raise ApiError(400, f"level must be one of {', '.join(LEVELS)}", "level")
    comm = int_arg(request.args, "community_id", 0, lo=0) or None
    with services().db.read() as s:
        data = compute_indicators(s, level=level, day=_day(request.args.get("day")), community_id=comm,
                                  lang=normalise_lang(request.args.get("lang")),
                                  previous=request.args.get("previous") in ("1", "true"))
    return jsonify(data)


@bp.get("/api/v1/governance/panel")
@require(*READERS)
def governance_panel():
    """The wall panel's data: each community's 0–100 score on the five dimensions (month to date); a
    community-bound caller gets its own community's only."""
    comm = scope_community(g.get("principal"))
    with services().db.read() as s:
        data = panel_data(s, day=_day(request.args.get("day")), lang=normalise_lang(request.args.get("lang")),
                          community_id=comm)
    return jsonify(data)


@bp.post("/api/v1/governance/activities")
@require(Role.WORKER, Role.DISPATCHER, Role.INTEGRATION)
def governance_activity_create():
    """Record one activity (JSON); 400 naming the field on bad input, nothing written."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object")
    try:
        with services().db.write() as s:
            a = create_activity(s, data, source="api", created_by=_who(),
                                community_id=scope_community(g.get("principal")))
            body = activity_public(a, normalise_lang(request.args.get("lang")))
    except ActivityProblem as p:
        raise ApiError(403 if isinstance(p, ActivityOutside) else 400, p.message, p.field)
    return jsonify(body), 201


@bp.post("/api/v1/governance/activities/import")
@require(Role.DISPATCHER, Role.INTEGRATION)
def governance_activity_import():
    """Import a CSV/Excel file (form field ``file``): every row or none; 422 lists each bad row."""
    f = request.files.get("file")
    if f is None:
        raise ApiError(400, "send the table as the multipart form field 'file'", "file")
    try:
        df = read_activity_table(f.read(), f.filename or "")
        with services().db.write() as s:
            result = import_activities(s, df, created_by=_who(), community_id=scope_community(g.get("principal")))
    except TableTooLarge as exc:  # refused from the zip's directory or the row count, before the rows
        raise ApiError(413, str(exc), "file")
    except ActivityProblem as p:
        raise ApiError(400, p.message, p.field)
    if result.errors:
        status = 403 if result.outside else 422  # a row in another community's grid: refused, not malformed
        return jsonify({"error": {"status": status, "message": f"{len(result.errors)} row(s) have errors; "
                                  "nothing was imported", "field": "file"}, "errors": result.errors}), status
    return jsonify({"created": result.created}), 201


def register(app, services) -> None:
    app.register_blueprint(bp)
    from .governance_openapi import describe
    describe(app)


@bp.get("/api/v1/governance/targets")
@require(Role.ADMIN, Role.LEADER, Role.DISPATCHER)
def governance_targets():
    """The street's target for every 五治 indicator (a score is 100 × value / what the target expects, at most 100)."""
    lang = normalise_lang(request.args.get("lang"))
    with services().db.read() as s:
        goals = targets(s)
    return jsonify({"targets": [{**i.public(lang, goals[i.key]), "default": i.target} for i in INDICATORS]})


class TargetIn(BaseModel):
    """A 五治 indicator's target (other keys are ignored, as they always were)."""

    target: float = Field(strict=True, gt=0, lt=1e9, allow_inf_nan=False,
                          description="the value (or count per grid) that scores 100")


@bp.put("/api/v1/governance/targets/<key>")
@require(Role.ADMIN)
def set_governance_target(key: str):
    """Set one indicator's target (admins; audited): body ``{"target": <number > 0>}``."""
    from ..models import GovernanceTarget
    from ..principal import resolve_principal
    from ..services import audit
    from ..timeutil import utcnow

    p = resolve_principal(services())
    if p is not None and p.community_id is not None:  # one set of targets scores every community
        raise ApiError(403, "the 五治 targets are the street's: only a street-wide admin sets them", "key")
    if key not in BY_KEY:
        raise ApiError(404, f"no 五治 indicator {key!r}", "key")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object {\"target\": number}", "target")
    raw = parse(TargetIn, body, status=400).target
    with services().db.write() as s:
        row = s.get(GovernanceTarget, key)
        before = None if row is None else row.target
        if row is None:
            row = GovernanceTarget(key=key, target=float(raw))
            s.add(row)
        row.target, row.updated_at, row.updated_by = float(raw), utcnow(), _who()
        audit.record(s, p, "governance_target", f"governance_target:{key}",
                     {"before": before, "after": float(raw)}, request.remote_addr)
    return jsonify({"key": key, "target": float(raw), "default": BY_KEY[key].target})
