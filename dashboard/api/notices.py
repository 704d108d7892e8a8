"""/api/v1/notices — grid notices (网格通知, issue 31 item 2), and what the residents' page reads of them.

- ``POST /api/v1/notices``: a grid worker to her own grids (another grid: 403), the center (dispatcher, admin) to a
  community or the street (a community-bound user: its own community only). Title, text, an optional picture (a
  token from ``POST /api/v1/photos``, checked as a case photo is), valid until, urgent. The notice, its outbox
  message (services/notifier.py) and the audit row commit together; then the notice is pushed to the open
  residents' pages of every grid it reaches (resident_live.py). An optional ``Idempotency-Key`` (8–100
  characters, per author): a repeat answers 200 with the first notice and publishes nothing more.
- ``GET /api/v1/notices`` (scoped like every list) and ``GET /api/v1/notices/<id>`` with the opens per grid;
  ``POST /api/v1/notices/<id>/withdraw``.
- ``GET /api/v1/notify/outbox``: admins see how delivery beyond the page goes (per state, every attempt).
- Public, for ``/r``: ``GET /api/v1/r/grids/<id>/notices`` — the live notices of a grid (its own, its community's,
  the street's; urgent first, then newest) and a resident ticket for the live channel. Anonymous; rate-limited per
  address (``GC_RATE_NOTICES``); an open is counted once per address, grid and hour. ``GET
  /api/v1/r/notices/<id>/picture`` serves a live notice's picture.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from pydantic import Field, StrictBool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..models import Grid, Role
from ..models.residents import Notice
from ..ratelimit import RateLimits, client_key
from ..resident_live import TICKET_MAX_AGE_S, TICKET_PARAM, make_ticket, notices_room
from ..services import notices as svc
from ..services import residents as residents_svc
from ..services import notifier
from ..timeutil import SHANGHAI, utcnow
from .auth import require
from .deps import caller, services
from .errors import ApiError, int_arg
from .schemas import PHOTO_TOKEN, Id, Strict, parse

log = logging.getLogger(__name__)

PUBLISHERS = (Role.WORKER, Role.DISPATCHER)  # and admin (``require`` admits admins everywhere)
READERS = (Role.WORKER, Role.DISPATCHER, Role.LEADER)
READ_WINDOW_S = 3600  # one counted open per address, grid and window
LIMITS_KEY = "gc_notice_limits"


class NoticeBody(Strict):
    """A notice to publish."""

    scope: str = Field(description="grid (a worker: her grids) | community | street (the center)",
                       pattern="^(grid|community|street)$")
    title: str = Field(min_length=1, max_length=svc.TITLE_MAX)
    body: str = Field(default="", max_length=svc.BODY_MAX)
    grid_ids: list[Id] = Field(default_factory=list, max_length=50,
                               description="scope grid: some of the worker's grids (default: all of them)")
    community_id: Id | None = Field(default=None, description="scope community: the community")
    picture: str | None = Field(default=None, pattern=PHOTO_TOKEN, description="a token from POST /api/v1/photos")
    valid_until: datetime | None = Field(default=None, description="ISO 8601 (without a zone: Asia/Shanghai); "
                                         "default 7 days, at most 180")
    urgent: StrictBool = False


def _now() -> datetime:
    clock = getattr(services(), "clock", None)
    return clock() if clock else utcnow()


def _limits() -> RateLimits:
    app = current_app
    if LIMITS_KEY not in app.extensions:
        app.extensions[LIMITS_KEY] = RateLimits({"PAGE": services().settings.rate_notices,
                                                 "READ": f"1/{READ_WINDOW_S}"})
    return app.extensions[LIMITS_KEY]


def _who_writes() -> svc.Author:
    p = caller()
    if p.role == Role.WORKER:
        if p.worker_id is None:
            raise ApiError(403, "this account is not linked to a grid worker")
        return svc.Author(name=p.name, worker_id=p.worker_id)
    return svc.Author(name=p.name, community_id=p.community_id)


def _error(exc: svc.NoticeError) -> ApiError:
    return ApiError(exc.status, exc.message, exc.field)


def push(grid_ids: list[int], message: dict) -> None:
    """Send a notice message to the open residents' pages of ``grid_ids`` (after commit)."""
    if grid_ids:
        services().socketio.emit("notice", message, to=[notices_room(g) for g in grid_ids])


def _idempotency_key(author: svc.Author) -> str | None:
    """The ``Idempotency-Key`` header (8–100 characters) in its author's namespace: a worker's, else the API key's or
    user's by id — another author's same key never answers with her notice."""
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is None:
        return None
    if not (8 <= len(key) <= 100) or not key.isprintable():
        raise ApiError(422, "the idempotency key must be 8–100 printable characters", "Idempotency-Key")
    p = caller()
    ns = f"w{author.worker_id}" if author.worker_id is not None else f"k{p.key_id}" if p.key_id is not None \
        else f"u{p.user_id}" if p.user_id is not None else f"{p.via}:{p.name}"[:26]  # as api/field.py's reports
    return f"{ns}:{key}"


bp = Blueprint("notices", __name__)


@bp.post("/api/v1/notices")
@require(*PUBLISHERS)
def notices_publish():
    author = _who_writes()
    body = parse(NoticeBody, request.get_json(silent=True))
    until = body.valid_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=SHANGHAI)
    data = svc.NoticeIn(scope=body.scope, title=body.title, body=body.body, grid_ids=tuple(body.grid_ids),
                        community_id=body.community_id, picture=body.picture, valid_until=until, urgent=body.urgent)
    key = _idempotency_key(author)
    st, now = services().settings, _now()
    try:
        with services().db.write() as s:
            first = s.scalar(select(Notice).where(Notice.idempotency_key == key)) if key else None
            if first is not None:  # a retry of a notice already published: the first one, nothing more
                return jsonify(svc.notice_public(first, now, per_grid=svc.reads_by_grid(s, first))), 200
            n = svc.publish(s, data, author, uploads=st.uploads_dir, backend=st.notify_backend, now=now)
            n.idempotency_key = key
            s.flush()
            out = svc.notice_public(n, now, per_grid=svc.reads_by_grid(s, n))
            reached, live = svc.grids_reached(s, n), svc.resident_view(n)
    except svc.NoticeError as exc:
        raise _error(exc)
    except IntegrityError:
        if key is None:
            raise
        with services().db.read() as s:  # a concurrent twin committed first: answer with its notice
            first = s.scalar(select(Notice).where(Notice.idempotency_key == key))
            if first is None:
                raise
            return jsonify(svc.notice_public(first, now, per_grid=svc.reads_by_grid(s, first))), 200
    push(reached, {"type": "published", "notice": live})
    services().notify_wake.set()  # the sender, when it runs in this process, goes at once
    return jsonify(out), 201


@bp.get("/api/v1/notices")
@require(*READERS)
def notices_list():
    p = caller()
    state = request.args.get("state", "all")
    if state not in ("all", "live"):
        raise ApiError(400, "state must be all or live", "state")
    limit = int_arg(request.args, "limit", 50, lo=1, hi=svc.LIST_MAX)
    now = _now()
    wid = p.worker_id if p.role == Role.WORKER else None
    if p.role == Role.WORKER and wid is None:
        raise ApiError(403, "this account is not linked to a grid worker")
    with services().db.read() as s:
        rows = svc.visible(s, worker_id=wid, community_id=p.community_id, now=now, state=state, limit=limit)
        totals = svc.read_totals(s, [n.id for n in rows], community_id=p.community_id)
        items = [svc.notice_public(n, now, reads=int(totals.get(n.id, 0))) for n in rows]
    return jsonify({"items": items})


def _visible_notice(s, notice_id: int) -> Notice:  # noqa: ANN001
    p = caller()
    n = s.get(Notice, notice_id)
    wid = p.worker_id if p.role == Role.WORKER else None
    if n is None or not svc.may_see(s, n, worker_id=wid, community_id=p.community_id):
        raise ApiError(404, f"no notice {notice_id}", "id")
    return n


@bp.get("/api/v1/notices/<int:notice_id>")
@require(*READERS)
def notices_get(notice_id: int):
    """One notice with its opens per grid."""
    now = _now()
    with services().db.read() as s:
        n = _visible_notice(s, notice_id)
        per_grid = svc.reads_by_grid(s, n)
        if caller().community_id is not None:  # a street notice's grids of other communities are not its business
            mine = set(s.scalars(select(Grid.id).where(Grid.community_id == caller().community_id)))
            per_grid = [r for r in per_grid if r["grid_id"] in mine]
        out = svc.notice_public(n, now, reads=sum(r["reads"] for r in per_grid), per_grid=per_grid)
    return jsonify(out)


@bp.post("/api/v1/notices/<int:notice_id>/withdraw")
@require(*PUBLISHERS)
def notices_withdraw(notice_id: int):
    p = caller()
    author = _who_writes()
    now = _now()
    try:
        with services().db.write() as s:
            n = _visible_notice(s, notice_id)
            svc.withdraw(s, n, worker_id=author.worker_id, community_id=p.community_id, now=now)
            out = svc.notice_public(n, now)
            reached = svc.grids_reached(s, n)
    except svc.NoticeError as exc:
        raise _error(exc)
    push(reached, {"type": "withdrawn", "id": notice_id})
    return jsonify(out)


@bp.get("/api/v1/notify/outbox")
@require(Role.ADMIN)
def notify_outbox():
    """Delivery beyond the page: counts per state and the newest messages with every attempt."""
    if caller().community_id is not None:  # every community's messages: the street's admins only
        raise ApiError(403, "the delivery outbox is the street's; a community-bound admin may not read it")
    state = request.args.get("state") or None
    if state is not None and state not in notifier.STATES:
        raise ApiError(400, f"state must be one of {', '.join(notifier.STATES)}", "state")
    limit = int_arg(request.args, "limit", 50, lo=1, hi=200)
    with services().db.read() as s:
        out = notifier.outbox_status(s, state=state, limit=limit)
    out["backend"] = services().settings.notify_backend
    return jsonify(out)


# -- public: the residents' page -------------------------------------------------------------------------------

def _rate_limited(name: str, key: str) -> bool:
    return not _limits().take(name, key)


@bp.get("/api/v1/r/grids/<int:grid_id>/notices")
def resident_notices(grid_id: int):
    """The live notices of one grid for its residents' page, and a ticket for their live channel."""
    addr = client_key(request.remote_addr)  # an IPv6 client by its /64
    if _rate_limited("PAGE", addr):
        raise ApiError(429, "too many requests from this address; try again shortly")
    now = _now()
    with services().db.read() as s:
        grid = s.get(Grid, grid_id)
        if grid is None:
            raise ApiError(404, f"no grid {grid_id}", "grid_id")
        rows = svc.live_for_grid(s, grid, now)
        items = [svc.resident_view(n) for n in rows]
    # an open counts only from the grid's own poster link (g=<code>.<check>, as /r carries it): a bare grid number
    # lists the public notices, but counting them from it would let anyone inflate every grid's opens
    from_poster = residents_svc.grid_code_of(str(current_app.config["SECRET_KEY"]),
                                            request.args.get("g")) == grid.code
    if rows and from_poster and request.args.get("count", "1") != "0" \
            and not _rate_limited("READ", f"{addr}|{grid_id}"):
        try:
            with services().db.write(bulk=True) as s:
                svc.record_reads(s, [n.id for n in rows], grid_id, now)
        except Exception:  # noqa: BLE001 — a count is not worth a resident's error page
            log.exception("counting notice opens failed")
    ticket = make_ticket(str(current_app.secret_key), grid_id)
    return jsonify({"grid_id": grid_id, "items": items,
                    "live": {"param": TICKET_PARAM, "ticket": ticket, "max_age_s": TICKET_MAX_AGE_S}})


@bp.get("/api/v1/r/notices/<int:notice_id>/picture")
def resident_notice_picture(notice_id: int):
    """A live notice's picture (``?thumb=1``: its thumbnail)."""
    if _rate_limited("PAGE", client_key(request.remote_addr)):
        raise ApiError(429, "too many requests from this address; try again shortly")
    thumb = request.args.get("thumb") == "1"
    root = services().settings.uploads_dir
    with services().db.read() as s:
        n = s.get(Notice, notice_id)
        if n is None or not n.picture_path or not svc.is_live(n, _now()):
            raise ApiError(404, f"no picture of a live notice {notice_id}", "notice_id")
        rel = n.picture_path.replace(".jpg", ".thumb.jpg") if thumb else n.picture_path
    path = (root / rel).resolve()
    if not str(path).startswith(str(root.resolve())) or not path.is_file():
        raise ApiError(404, f"the picture of notice {notice_id} is missing", "notice_id")
    return send_file(path, mimetype="image/jpeg", max_age=3600)


def register(app, services) -> None:  # noqa: ANN001
    app.register_blueprint(bp)
    _describe(app)


NOTICE: dict[str, Any] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "body": {"type": "string"}, "urgent": {"type": "boolean"},
    "picture_url": {"type": "string", "nullable": True}, "valid_until": {"type": "string", "nullable": True},
    "created_at": {"type": "string", "nullable": True}}}
READS_BY_GRID = {"type": "array", "items": {"type": "object", "properties": {
    "grid_id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
    "reads": {"type": "integer"}}}}
STAFF_NOTICE: dict[str, Any] = {"type": "object", "properties": {
    **NOTICE["properties"], "scope": {"type": "string", "enum": list(svc.SCOPES)},
    "grid_ids": {"type": "array", "items": {"type": "integer"}},
    "community_id": {"type": "integer", "nullable": True}, "author": {"type": "string"},
    "author_worker_id": {"type": "integer", "nullable": True},
    "state": {"type": "string", "enum": ["live", "expired", "withdrawn"]},
    "withdrawn_at": {"type": "string", "nullable": True}, "reads": {"type": "integer"},
    "reads_by_grid": READS_BY_GRID}}


def _describe(app) -> None:  # noqa: ANN001
    from .openapi import query, registry

    api = registry(app)
    staff = api.schema("Notice", STAFF_NOTICE)
    public = api.schema("ResidentNotice", NOTICE)
    api.add("/api/v1/notices", "post", tags=["notices"], roles=("worker", "dispatcher", "admin"), body=NoticeBody,
            summary="Publish a grid notice: a worker to her grids, the center to a community or the street",
            params=[{"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "minLength": 8, "maxLength": 100},
                     "description": "one per composed notice: a retry with the same key from the same author "
                                    "answers 200 with the first notice and publishes nothing more"}],
            responses={201: ("the notice, with its grids' opens", staff),
                       200: ("a repeat of an Idempotency-Key: the first notice, nothing published", staff),
                       403: "a grid that is not the worker's, a community outside the caller's jurisdiction",
                       422: "bad input (names the field): a past valid_until, an unknown picture token …"})
    api.add("/api/v1/notices", "get", tags=["notices"], roles=("worker", "dispatcher", "leader", "admin"),
            summary="Notices the caller may see (a worker: those reaching her grids), newest first, with opens",
            params=[query("state", enum=["all", "live"]), query("limit", "integer", minimum=1, maximum=svc.LIST_MAX)],
            responses={200: ("the notices", {"type": "object", "properties": {
                "items": {"type": "array", "items": staff}}})})
    api.add("/api/v1/notices/{notice_id}", "get", tags=["notices"], roles=("worker", "dispatcher", "leader", "admin"),
            summary="One notice with its opens per grid", responses={200: ("the notice", staff),
                                                                      404: "no such notice"})
    api.add("/api/v1/notices/{notice_id}/withdraw", "post", tags=["notices"], roles=("worker", "dispatcher", "admin"),
            summary="Withdraw a notice from the residents' pages (its undelivered message is not sent)",
            responses={200: ("the notice", staff), 403: "not the caller's notice to withdraw", 404: "no such notice"})
    attempt = {"type": "object", "properties": {
        "at": {"type": "string", "nullable": True}, "backend": {"type": "string"},
        "status_code": {"type": "integer", "nullable": True}, "error": {"type": "string"},
        "duration_ms": {"type": "number"}}}
    message = {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "ref_id": {"type": "integer", "nullable": True},
        "state": {"type": "string", "enum": list(notifier.STATES)}, "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "string", "nullable": True}, "last_error": {"type": "string"},
        "created_at": {"type": "string", "nullable": True}, "sent_at": {"type": "string", "nullable": True},
        "title": {"type": "string"}, "attempt_list": {"type": "array", "items": attempt}}}
    api.add("/api/v1/notify/outbox", "get", tags=["notices"], roles=("admin",),
            summary="Delivery of notices beyond the page: messages per state and every attempt",
            params=[query("state", enum=list(notifier.STATES)), query("limit", "integer", minimum=1, maximum=200)],
            responses={200: ("the outbox", {"type": "object", "properties": {
                "backend": {"type": "string"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "items": {"type": "array", "items": message}}})})
    api.add("/api/v1/r/grids/{grid_id}/notices", "get", tags=["residents"], security=False,
            summary="A grid's live notices for its residents' page (anonymous), and a ticket for their live channel",
            description="Urgent first, then newest: the grid's own notices, its community's and the street's. An "
                        "open is counted once per address, grid and hour, and only with the grid's poster link (g).",
            params=[query("count", enum=["0", "1"], description="0: do not count this as an open"),
                    query("g", description="the grid's poster link parameter (<grid code>.<check>); opens are "
                                           "counted only with it")],
            responses={200: ("the notices", {"type": "object", "properties": {
                "grid_id": {"type": "integer"}, "items": {"type": "array", "items": public},
                "live": {"type": "object", "properties": {"param": {"type": "string"}, "ticket": {"type": "string"},
                                                          "max_age_s": {"type": "integer"}}}}}),
                       404: "no such grid", 429: "too many requests from this address"})
    api.add("/api/v1/r/notices/{notice_id}/picture", "get", tags=["residents"], security=False,
            summary="A live notice's picture (anonymous)", params=[query("thumb", enum=["0", "1"])],
            responses={200: ("the picture", {"type": "string", "format": "binary"}, "image/jpeg"),
                       404: "no live notice with a picture", 429: "too many requests from this address"})
