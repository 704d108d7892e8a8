"""/api/v1 field API, part 1: cases and their photos (report, list, read, upload, fetch).

The phone page (/m), a native app and integrations use the same calls. Creates take an
idempotency key (``Idempotency-Key`` header or body ``idempotency_key``): a repeat
answers 200 with the first case, never a duplicate. The answer goes out after commit.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from sqlalchemy import false, func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from ..models import Case, CasePhoto, Community, Grid, Role, Worker
from ..services import photos as photo_svc
from ..services.cases import CaseError, CaseReport, case_public, report_case
from .auth import require
from .deps import caller, services
from ..principal import Principal, in_scope, record_in_scope
from .errors import ApiError, error_response, int_arg, page_arg
from .openapi import query, registry
from .schemas import CaseIn, parse

log = logging.getLogger(__name__)

REPORTERS = (Role.WORKER, Role.INTEGRATION, Role.DISPATCHER)
READERS = (Role.WORKER, Role.INTEGRATION, Role.DISPATCHER, Role.LEADER)
CASE_OUT = {"type": "object", "description": "a case, personal data masked", "properties": {
    "id": {"type": "integer"}, "code": {"type": "string"}, "category_code": {"type": "string"},
    "state": {"type": "string"}, "lat": {"type": "number", "nullable": True},
    "lon": {"type": "number", "nullable": True}, "grid_id": {"type": "integer", "nullable": True},
    "outside": {"type": "boolean"}, "source": {"type": "string"}, "handled_onsite": {"type": "boolean"},
    "photo_list": {"type": "array", "items": {"type": "object"}}}}


def acting_worker(p: Principal, requested: int | None) -> int | None:
    """The worker a call acts for: a worker account is always itself; others may name one."""
    if p.role == Role.WORKER:
        if p.worker_id is None:
            raise ApiError(403, "this account is not linked to a grid worker")
        if requested not in (None, p.worker_id):
            raise ApiError(403, "a worker account acts only for itself", "worker_id")
        return p.worker_id
    return requested


def idempotency_namespace(p: Principal, wid: int | None) -> str:
    """Whose idempotency keys a report's key is one of: the worker's, else the API key's or user's by id (names
    repeat and were cut short, so two keys named alike answered each other's reports)."""
    if wid is not None:
        return f"w{wid}"
    if p.key_id is not None:
        return f"k{p.key_id}"
    if p.user_id is not None:
        return f"u{p.user_id}"
    return f"{p.via}:{p.name}"[:26]  # the demo operator: one per installation


def case_out(session, c: Case) -> dict[str, Any]:
    """One case in full (timeline and photos), masked."""
    ids = {i for i in (c.reporter_worker_id, c.assigned_worker_id) if i}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(ids))).all()) if ids else {}
    out = case_public(c, grid=session.get(Grid, c.grid_id) if c.grid_id else None, worker_names=names, detail=True)
    out["photo_list"] = [photo_svc.photo_public(p) for p in c.photos]
    return out


def cases_out(session, cases: list[Case]) -> list[dict[str, Any]]:
    """Many cases, masked, with two queries for names and grids (never one per row)."""
    wids = {i for c in cases for i in (c.reporter_worker_id, c.assigned_worker_id) if i}
    gids = {c.grid_id for c in cases if c.grid_id}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(wids))).all()) if wids else {}
    grids = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(gids)))} if gids else {}
    return [case_public(c, grid=grids.get(c.grid_id), worker_names=names) for c in cases]


def scope_cases(q, p: Principal, session):
    """Limit a case query to what the caller may see."""
    if p.community_id is not None:
        q = q.where(Case.community_id == p.community_id)
    if p.scope == "worker":  # its own reports and tasks; a key linked to no worker sees none
        if p.worker_id is None:
            return q.where(false())
        q = q.where(or_(Case.reporter_worker_id == p.worker_id, Case.assigned_worker_id == p.worker_id))
    return q


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        v = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(400, f"since must be ISO 8601 with a zone, got {raw!r}", "since")
    if v.tzinfo is None:
        raise ApiError(400, "since needs a time zone (Z or +08:00)", "since")
    return v


def _uploads():
    """Where staged and attached photos live (the serving app's settings)."""
    return services().settings.uploads_dir


bp = Blueprint("field", __name__)


@bp.post("/api/v1/cases")
@require(*REPORTERS)
def create_case():
    p = caller()
    body = parse(CaseIn, request.get_json(silent=True))
    header_key = request.headers.get("Idempotency-Key", "").strip() or None
    if header_key and body.idempotency_key and header_key != body.idempotency_key:
        raise ApiError(422, "Idempotency-Key header and body idempotency_key differ", "idempotency_key")
    key = header_key or body.idempotency_key
    if key is not None and not (8 <= len(key) <= 100):
        raise ApiError(422, "idempotency key must be 8–100 characters", "Idempotency-Key")
    if body.onsite is False and body.after_photos:
        raise ApiError(422, "after_photos only with onsite=true", "after_photos")
    wid = acting_worker(p, body.worker_id)
    if key is not None:  # keys are per reporter: someone else's key never returns their case
        key = f"{idempotency_namespace(p, wid)}:{key}"
    report = CaseReport(category_code=body.category_code, description=body.description, lat=body.lat,
                        lon=body.lon, crs=body.crs, address=body.address, source="app", onsite=body.onsite,
                        reporter_worker_id=wid, idempotency_key=key, note=body.note)
    try:
        with services().db.write() as s:
            if wid is not None and not record_in_scope(s, p, "worker_id", wid):
                raise ApiError(422, f"unknown worker {wid}", "worker_id")
            c, created = report_case(s, report, locator=services().locator, actor=p.name if wid is None else "")
            if not in_scope(p, c.community_id):  # raising here rolls the report back: nothing is written
                raise ApiError(403, "the point lies in another community, outside your jurisdiction; report "
                                    "it to that community or the street's centre", "lat")
            if created:
                photo_svc.attach(s, _uploads(), c, body.photos, stage="before")
                photo_svc.attach(s, _uploads(), c, body.after_photos, stage="after")
            out = case_out(s, c)
    except CaseError as exc:
        raise ApiError(422, exc.message, exc.field)
    except photo_svc.PhotoError as exc:
        raise ApiError(exc.status, exc.message, exc.field)
    except IntegrityError:
        if key is None:
            raise
        with services().db.read() as s:  # a concurrent twin committed first: answer with its case
            c = s.scalar(select(Case).where(Case.idempotency_key == key))
            if c is None:
                raise
            out, created = case_out(s, c), False
    return jsonify(out), 201 if created else 200


@bp.get("/api/v1/cases")
@require(*READERS)
def list_cases():
    p = caller()
    size = int_arg(request.args, "page_size", 50, lo=1, hi=500)
    page = page_arg(request.args, size)
    since = _since(request.args.get("since"))
    with services().db.read() as s:
        q = scope_cases(select(Case), p, s)
        states = [x for x in request.args.get("state", "").split(",") if x]
        if states:
            q = q.where(Case.state.in_(states))
        if grid := request.args.get("grid"):
            gid = s.scalar(select(Grid.id).where(or_(Grid.code == grid, Grid.id == (
                int(grid) if grid.isdigit() else -1))))
            if gid is None:
                raise ApiError(400, f"unknown grid {grid!r}", "grid")
            q = q.where(Case.grid_id == gid)
        if comm := request.args.get("community"):
            cid = s.scalar(select(Community.id).where(or_(Community.code == comm, Community.id == (
                int(comm) if comm.isdigit() else -1))))
            if cid is None:
                raise ApiError(400, f"unknown community {comm!r}", "community")
            q = q.where(Case.community_id == cid)
        if since is not None:
            q = q.where(Case.updated_at >= since)
        total = s.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
        rows = list(s.scalars(q.order_by(Case.created_at.desc(), Case.id.desc())
                              .offset((page - 1) * size).limit(size)))
        items = cases_out(s, rows)
    return jsonify({"items": items, "total": total, "page": page, "page_size": size})


def _case_for(s, p: Principal, case_id: int) -> Case:
    c = s.scalar(scope_cases(select(Case).where(Case.id == case_id), p, s))
    if c is None:
        raise ApiError(404, f"no case {case_id}", "id")
    return c


@bp.get("/api/v1/cases/<int:case_id>")
@require(*READERS)
def get_case(case_id: int):
    p = caller()
    with services().db.read() as s:
        return jsonify(case_out(s, _case_for(s, p, case_id)))


@bp.post("/api/v1/photos")
@require(*REPORTERS)
def upload_photo():
    f = request.files.get("photo") or request.files.get("file")
    if f is None:
        raise ApiError(400, "send the image as multipart/form-data field 'photo'", "photo")
    try:
        st = photo_svc.store_upload(_uploads(), f.stream)
    except photo_svc.PhotoError as exc:
        raise ApiError(exc.status, exc.message, exc.field)
    return jsonify({"token": st.token, "size": st.size, "width": st.width, "height": st.height}), 201


@bp.post("/api/v1/cases/<int:case_id>/photos")
@require(*REPORTERS)
def add_case_photo(case_id: int):
    p = caller()
    f = request.files.get("photo") or request.files.get("file")
    if f is None:
        raise ApiError(400, "send the image as multipart/form-data field 'photo'", "photo")
    stage = request.form.get("stage", "before")
    if stage not in photo_svc.STAGES:
        raise ApiError(422, "stage must be before or after", "stage")
    with services().db.read() as s:
        _case_for(s, p, case_id)
    try:
        st = photo_svc.store_upload(_uploads(), f.stream)
        with services().db.write() as s:
            c = _case_for(s, p, case_id)
            (photo,) = photo_svc.attach(s, _uploads(), c, [st.token], stage=stage)
            out = photo_svc.photo_public(photo)
    except photo_svc.PhotoError as exc:
        raise ApiError(exc.status, exc.message, exc.field)
    return jsonify(out), 201


def _photo(photo_id: int, thumb: bool):
    p = caller()
    with services().db.read() as s:
        row = s.get(CasePhoto, photo_id)
        if row is None:
            raise ApiError(404, f"no photo {photo_id}", "id")
        _case_for(s, p, row.case_id)
        path = photo_svc.file_of(_uploads(), row, thumb=thumb)
    if path is None:
        raise ApiError(404, f"the file of photo {photo_id} is missing", "id")
    return send_file(path, mimetype="image/jpeg", max_age=86400)


@bp.get("/api/v1/photos/<int:photo_id>")
@require(*READERS, Role.DISPLAY)
def get_photo(photo_id: int):
    return _photo(photo_id, False)


@bp.get("/api/v1/photos/<int:photo_id>/thumb")
@require(*READERS, Role.DISPLAY)
def get_photo_thumb(photo_id: int):
    return _photo(photo_id, True)


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(e):
    """A body past MAX_CONTENT_LENGTH, on any route of the app: the JSON error naming the photo or the body."""
    return error_response(413, f"request larger than {current_app.config['MAX_CONTENT_LENGTH'] // (1024 * 1024)} MB",
                          "photo" if (request.mimetype or "").startswith("multipart") else "body")


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    case_ref = api.schema("CaseOut", CASE_OUT)
    api.add("/api/v1/cases", "post", summary="Report a case (就地处置 or 上报)", tags=["cases"], roles=REPORTERS,
            body=CaseIn, params=[{"name": "Idempotency-Key", "in": "header", "required": False,
                                  "schema": {"type": "string", "minLength": 8, "maxLength": 100}}],
            responses={201: ("created", case_ref), 200: ("the case an earlier request with this key made", case_ref),
                       403: "a community-bound caller's point lies in another community (field lat); nothing written"})
    api.add("/api/v1/cases", "get", summary="List cases", tags=["cases"], roles=READERS, params=[
        query("state", description="comma-separated states"), query("grid", description="grid code or id"),
        query("community", description="community code or id"),
        query("since", format="date-time", description="updated at or after"),
        query("page", "integer", minimum=1), query("page_size", "integer", minimum=1, maximum=500)],
        responses={200: ("a page", {"type": "object", "properties": {
            "items": {"type": "array", "items": case_ref}, "total": {"type": "integer"},
            "page": {"type": "integer"}, "page_size": {"type": "integer"}}})})
    api.add("/api/v1/cases/{case_id}", "get", summary="One case with timeline and photos", tags=["cases"],
            roles=READERS, responses={200: ("the case", case_ref), 404: "no such case"})
    upload_body: dict[str, Any] = {"type": "object", "required": ["photo"], "properties": {
        "photo": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP, ≤ 10 MB"},
        "stage": {"type": "string", "enum": list(photo_svc.STAGES), "default": "before"}}}
    api.add("/api/v1/photos", "post", summary="Upload a photo before reporting (returns a token)", tags=["photos"],
            roles=REPORTERS, body={**upload_body, "properties": {"photo": upload_body["properties"]["photo"]}},
            body_type="multipart/form-data", responses={201: "token", 413: "too large", 415: "not an image"})
    api.add("/api/v1/cases/{case_id}/photos", "post", summary="Add a photo to a case", tags=["photos"],
            roles=REPORTERS, body=upload_body, body_type="multipart/form-data",
            responses={201: "stored", 404: "no such case", 413: "too large", 415: "not an image"})
    for suffix in ("", "/thumb"):
        api.add(f"/api/v1/photos/{{photo_id}}{suffix}", "get", summary="A photo" + (" thumbnail" if suffix else ""),
                tags=["photos"], roles=READERS, responses={200: "image/jpeg", 404: "no such photo"})
