"""/api/v1/alerts: list, acknowledge/resolve with a comment, dispatch from an alert, and CAP 1.2 in."""
from __future__ import annotations

from flask import Blueprint, has_request_context, jsonify, request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..models import Alert, AlertState, Grid, Role, Worker
from ..services import audit
from ..services.alerts import AlertError, acknowledge, alert_public, resolve
from ..services.cap import CapError, CapRefused, cap_key, ingest_cap, parse_cap
from ..services.cases import CaseError, IllegalTransition
from ..services.dispatch import dispatch_from_alert, recommend_for_alert
from .deps import caller, services
from .auth import require
from ..principal import Principal, in_scope, record_in_scope, scope_community
from .cases_ops import Code, Note, RequiredId, case_view, json_body, services_now
from .errors import ApiError, int_arg
from .schemas import parse

STATES = {"open": [AlertState.NEW, AlertState.ACKNOWLEDGED], "new": [AlertState.NEW],
          "acknowledged": [AlertState.ACKNOWLEDGED], "resolved": [AlertState.RESOLVED],
          "all": [AlertState.NEW, AlertState.ACKNOWLEDGED, AlertState.RESOLVED]}
CHANNELS = ("actual", "exercise", "all")


def alerts_out(session, rows: list[Alert], lang: str | None = None) -> list[dict]:
    """Alerts for screens, names masked, one query for all the names; a rule's title and detail in ``lang``
    (``?lang=en``; zh-CN by default) and in every language under ``texts``."""
    if lang is None and has_request_context():
        lang = request.args.get("lang")
    wids = {a.worker_id for a in rows if a.worker_id}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(wids))).all()) if wids else {}
    return [alert_public(a, names.get(a.worker_id), lang) for a in rows]


def cap_in_jurisdiction(session, p: Principal, a: Alert, data: bytes) -> None:
    """A community-bound caller's CAP message stays in its community: 403 when its area reaches a grid of
    another community, or when it updates or cancels (``references``) an alert of another community."""
    if p.community_id is None:
        return
    gids = [g for g in (a.grid_ids or []) if isinstance(g, int)]
    comms = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(gids)))) if gids else set()
    if not in_scope(p, a.community_id) or comms - {p.community_id}:
        raise ApiError(403, "the alert's area reaches grids outside your jurisdiction", "area")
    keys = [cap_key(*ref) for ref in parse_cap(data).references]
    if keys and any(not in_scope(p, c) for c in session.scalars(select(Alert.community_id).where(
            Alert.dedupe_key.in_(keys)))):
        raise ApiError(403, "references names an alert outside your jurisdiction", "references")


def caller_id(p: Principal) -> str:
    """Who owns what a caller sends (a CAP sender): its API key, its user account, or the demo operator."""
    if p.key_id is not None:
        return f"key:{p.key_id}"
    if p.user_id is not None:
        return f"user:{p.user_id}"
    return "demo" if p.is_demo else f"name:{p.name}"[:32]


def record_cap_cancel(session, p: Principal, a: Alert) -> None:
    """A CAP Cancel on the audit log: who sent it, as which sender, and which alerts it closed."""
    cap = (a.data or {}).get("cap", {})
    audit.record(session, p, "cap_cancel", f"alert:{a.id}",
                 {"sender": cap.get("sender"), "identifier": cap.get("identifier"),
                  "references": cap.get("references", [])[:20], "cancelled": cap.get("closes", [])[:50]},
                 request.remote_addr)


def street_wide_guard(p: Principal, a: Alert) -> None:
    """Only a street-wide caller acknowledges, resolves or dispatches from a street-wide alert (one community's
    operator would clear it from every other community's wall)."""
    if a.community_id is None and p.community_id is not None:
        raise ApiError(403, f"alert {a.id} is street-wide; only a street-wide operator may close it", "alert_id")
bp = Blueprint("alerts", __name__)


def get_alert(s, alert_id: int, p: Principal) -> Alert:
    a = s.get(Alert, alert_id)
    if a is None or (p.community_id is not None and a.community_id not in (None, p.community_id)):
        raise ApiError(404, f"no alert {alert_id}", "id")
    return a


@bp.get("/api/v1/alerts")
@require(Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
def list_alerts():
    """Alerts by state (open by default) and channel (actual by default), most urgent and newest first."""
    state = request.args.get("state", "open")
    channel = request.args.get("channel", "actual")
    if state not in STATES:
        raise ApiError(400, f"state must be one of {', '.join(STATES)}", "state")
    if channel not in CHANNELS:
        raise ApiError(400, f"channel must be one of {', '.join(CHANNELS)}", "channel")
    limit = int_arg(request.args, "limit", 200, lo=1, hi=2000)
    p = caller()
    q = select(Alert).where(Alert.state.in_(STATES[state])).order_by(Alert.created_at.desc(), Alert.id.desc())
    if channel != "all":
        q = q.where(Alert.channel == channel)
    if p.community_id is not None:
        q = q.where((Alert.community_id == p.community_id) | Alert.community_id.is_(None))
    with services().db.read() as s:
        return jsonify({"items": alerts_out(s, list(s.scalars(q.limit(limit))))})


class AlertCommentIn(BaseModel):
    comment: Note = Field(default="", description="why (on the alert's record)")


class AlertDispatchIn(BaseModel):
    worker_id: RequiredId = Field(description="the worker sent")
    category_code: Code = Field(default="", description="the case's category, when the alert has no case yet")
    note: Note = ""


def _lifecycle(alert_id: int, fn, **extra):
    p = caller()
    comment = parse(AlertCommentIn, json_body(), status=400).comment
    with services().db.write() as s:
        a = get_alert(s, alert_id, p)
        street_wide_guard(p, a)
        try:
            fn(s, a, by=p.name, comment=comment, now=services_now(services()))
        except AlertError as e:
            raise ApiError(409, str(e), "state")
        out = alerts_out(s, [a])[0]
    return jsonify(out)


@bp.post("/api/v1/alerts/<int:alert_id>/acknowledge")
@require(Role.DISPATCHER)
def ack_alert(alert_id: int):
    """new → acknowledged, with a comment."""
    return _lifecycle(alert_id, acknowledge)


@bp.post("/api/v1/alerts/<int:alert_id>/resolve")
@require(Role.DISPATCHER)
def resolve_alert(alert_id: int):
    """new/acknowledged → resolved, with a comment."""
    return _lifecycle(alert_id, resolve)


@bp.get("/api/v1/alerts/<int:alert_id>/recommendations")
@require(Role.DISPATCHER)
def alert_recommendations(alert_id: int):
    """Nearest available workers for the alert's place."""
    limit = int_arg(request.args, "limit", 5, lo=1, hi=50)
    p = caller()
    with services().db.read() as s:
        a = get_alert(s, alert_id, p)
        return jsonify({"alert_id": a.id, "workers": recommend_for_alert(s, a, limit=limit,
                                                                       community_id=scope_community(p))})


@bp.post("/api/v1/alerts/<int:alert_id>/dispatch")
@require(Role.DISPATCHER)
def alert_dispatch(alert_id: int):
    """Dispatch from an alert: JSON {worker_id, category_code (when it has no case yet), note}."""
    p = caller()
    body = parse(AlertDispatchIn, json_body(), status=400)
    worker_id, category, note = body.worker_id, body.category_code or None, body.note
    with services().db.write() as s:
        a = get_alert(s, alert_id, p)
        street_wide_guard(p, a)  # a dispatch acknowledges the alert and gives it a case, for every community
        if not record_in_scope(s, p, "worker_id", worker_id):  # another community's worker: as unknown
            raise ApiError(400, f"unknown worker {worker_id}", "worker_id")
        try:
            c = dispatch_from_alert(s, a, worker_id=worker_id, actor=p.name, note=note, category_code=category,
                                    calendar=services().calendar, locator=services().locator,
                                    now=services_now(services()))
        except IllegalTransition as e:
            raise ApiError(409, str(e), "state")
        except CaseError as e:
            raise ApiError(400, e.message, e.field)
        out = {"alert": alerts_out(s, [a])[0], "case": case_view(s, c)}
    return jsonify(out)


@bp.post("/api/v1/alerts/cap")
@require(Role.INTEGRATION, Role.DISPATCHER)
def cap_in():
    """An OASIS CAP 1.2 document (XML body): 201 new, 200 repeat (no-op), 400 malformed or hostile."""
    data = request.get_data(cache=False)
    loc = services().locator
    polygons, ids = (loc.polygons, loc.ids) if loc is not None else ((), ())
    p = caller()
    for attempt in (1, 2):
        try:
            with services().db.write() as s:
                a, created = ingest_cap(s, data, polygons=polygons, ids=ids, now=services_now(services()),
                                        by=f"CAP ({p.name})", owner=caller_id(p), community_id=p.community_id)
                cap_in_jurisdiction(s, p, a, data)  # raising here rolls the whole message back
                if created and a.kind == "cap_cancel":
                    record_cap_cancel(s, p, a)
                out = alerts_out(s, [a])[0]
            break
        except CapRefused as e:
            raise ApiError(403, e.message, e.field)
        except CapError as e:
            raise ApiError(400, e.message, e.field)
        except IntegrityError:  # a concurrent request committed the same message or claimed the same sender
            if attempt == 2:  # first: once more, now that its rows are there (a repeat, or someone else's sender)
                raise
    return jsonify({"created": created, "alert": out}), 201 if created else 200


def register(app, services) -> None:
    app.register_blueprint(bp)
    _describe(app)


def _describe(app) -> None:
    try:
        from .openapi import registry
    except ImportError:
        return
    api = registry(app)
    api.add("/api/v1/alerts", "get", tags=["alerts"], roles=("dispatcher", "leader", "display"),
            summary="Alerts by state (open|new|acknowledged|resolved|all) and channel (actual|exercise|all); "
                    "title and description in ?lang= (zh-CN by default), every language under texts; count and "
                    "last_at: how often an open alert repeated and when last")
    for what in ("acknowledge", "resolve"):
        api.add(f"/api/v1/alerts/{{alert_id}}/{what}", "post", tags=["alerts"], roles=("dispatcher",),
                summary=f"{what.capitalize()} an alert with a comment",
                body=AlertCommentIn,
                responses={200: "the alert", 403: "a community-bound caller and a street-wide alert",
                           409: "the alert's state does not allow it"})
    api.add("/api/v1/alerts/{alert_id}/recommendations", "get", tags=["alerts"], roles=("dispatcher",),
            summary="Nearest available workers for an alert")
    api.add("/api/v1/alerts/{alert_id}/dispatch", "post", tags=["alerts"], roles=("dispatcher",),
            summary="Open the alert's case if needed, dispatch it to a worker and acknowledge the alert (a "
                    "street-wide alert: street-wide operators only)",
            body=AlertDispatchIn)
    api.add("/api/v1/alerts/cap", "post", tags=["alerts"], roles=("integration", "dispatcher"),
            summary="OASIS CAP 1.2 alert in (XML)", body={"type": "string", "format": "xml"},
            body_type="application/cap+xml",
            responses={201: "accepted, new alert", 200: "repeat of an accepted message: nothing changed",
                       400: "malformed, incomplete or hostile XML (DTDs and entities refused): nothing changed",
                       403: "the sender belongs to another caller, references name another sender's alert, or a "
                            "community-bound caller's area or references reach another community: nothing changed"})
