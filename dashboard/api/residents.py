"""/api/v1/r — residents' reports from /r and their tracking (issue 31). Anonymous: a resident has no account.

- ``POST /api/v1/r/reports``: multipart/form-data with ``report`` (a JSON object: ``g`` the QR link's grid,
  ``category`` from the residents' list, ``description``, ``lat``/``lon`` WGS-84, optional ``phone``) and up to 3
  ``photo`` files (checked as /m's uploads); or the JSON object alone. ``Idempotency-Key`` (8–100 characters): a
  repeat answers 200 with the first report, never a second case. The answer (201: ``token``, ``tracking_code``)
  goes out after commit. Abuse limits: per client address and per phone number (429 naming the field, with
  ``Retry-After``); after a few reports from one address within an hour a small sum, signed by the server for this
  address and this key (429 ``challenge_answer`` carrying ``error.challenge``; a wrong answer is a 400).
- ``GET /api/v1/r/tickets/<token>``: the report's steps in plain words, the center's reply and after-photos.
- ``GET /api/v1/r/tickets/<token>/photos/<id>``: an after-photo, to the token's holder only.
- ``POST /api/v1/r/tickets/<token>/satisfaction``: after closure, once per closure (不满意 reopens once).
- ``GET /api/v1/r/grids/<g>/call``: the grid worker's public service number (``Worker.service_phone``), else the
  center's duty number (``"of": "center"``), when the resident taps "call"; never the worker's personal phone.

CSRF: as every anonymous POST here — no session, so no token to check; a foreign ``Origin`` is refused by
api/security.py before the view runs (a signed-in visitor's session still needs its header, which 05-csrf.js adds).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ApiError
from ..models import Case, Grid, Worker
from ..ratelimit import RateLimits, client_key
from ..services import photos as photo_svc
from ..services import residents as svc
from .audit_edge import act_as, name_target
from .cases_ops import services_now
from .deps import services
from .errors import error_response, too_many
from .openapi import openapi30, registry

log = logging.getLogger(__name__)
bp = Blueprint("residents", __name__)

MAX_REPORT_JSON = 16 * 1024  # the ``report`` field: a description of 1,000 characters fits many times over


def _limits() -> RateLimits:
    return current_app.extensions["gc_resident_limits"]


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _address() -> str:
    return client_key(request.remote_addr)  # an IPv6 client by its /64


def _too_many(name: str, key: str, field: str, message: str):
    return too_many(_limits(), name, key, message, field)


def _refusal(e: svc.ResidentError):
    body, status = error_response(e.status, e.message, e.field)
    if e.extra:
        data = body.get_json()
        data["error"].update(e.extra)
        body = jsonify(data)
    body.status_code = status
    return body


def _report_body() -> tuple[dict, list]:
    """The report's fields and its photo files, from a multipart form or a JSON body."""
    files = request.files.getlist("photo") if request.files else []
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("report")
        if raw is None:
            raise svc.ResidentError(400, "report", "send the report as the multipart field 'report' (a JSON object)")
        if len(raw) > MAX_REPORT_JSON:
            raise svc.ResidentError(413, "report", f"the report field may be at most {MAX_REPORT_JSON} bytes")
        try:
            data = json.loads(raw)
        except ValueError:
            raise svc.ResidentError(400, "report", "the report field is not JSON") from None
    else:
        data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise svc.ResidentError(400, "report", "send a JSON object")
    return data, files


def _text(v: Any, name: str, limit: int) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ValueError(f"{name} must be text")
    v = v.strip()
    if len(v) > limit:
        raise ValueError(f"{name} may be at most {limit} characters")
    if "\x00" in v:  # PostgreSQL refuses a NUL in text: a 422 here, not a 500 at the commit
        raise ValueError(f"{name} may not contain a NUL character")
    return v


def _coord(v: Any, name: str, lo: float, hi: float) -> float:
    if v is None:
        raise ValueError(f"{name} is required: pick the place on the map or use the phone's location")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:  # NaN
        raise ValueError(f"{name} must be a number")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}")
    return float(v)


class _Body(BaseModel):
    """A resident's body: each field's check says the words the /r page has always shown (a 422 naming the
    field, in the fields' order); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class ResidentReportIn(_Body):
    """The ``report`` JSON object of POST /api/v1/r/reports (the grid's QR link ``g`` is checked against its
    signature by the view first; the challenge fields by the view when the address needs one)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["g", "category", "lat", "lon"]})

    g: str | None = Field(default=None, description="the QR link's grid: <grid code>.<check>")
    category: str = Field(default=None, validate_default=True,  # type: ignore[assignment]
                          json_schema_extra={"enum": list(svc.RESIDENT_CATEGORIES)})
    description: str = Field(default="", max_length=svc.MAX_DESCRIPTION)
    lat: float = Field(default=None, ge=-90, le=90, validate_default=True)  # type: ignore[assignment]
    lon: float = Field(default=None, ge=-180, le=180, validate_default=True)  # type: ignore[assignment]
    phone: str | None = Field(default=None, description="call-back number, 7–15 digits (personal data); kept "
                                                        "normalised (+86 / 0086 / a trunk 0 dropped)")
    challenge: str | None = Field(default=None, description="error.challenge.token of a 429/400 answer")
    challenge_answer: str | int | None = None

    @field_validator("g", mode="before")
    @classmethod
    def _g(cls, v: Any) -> str | None:
        return v if isinstance(v, str) else None

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, v: Any) -> str:
        if not isinstance(v, str) or v not in svc.RESIDENT_CATEGORIES:  # a list or object: no 500
            raise ValueError(f"category must be one of {', '.join(svc.RESIDENT_CATEGORIES)}")
        return v

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, v: Any) -> str:
        return _text(v, "description", svc.MAX_DESCRIPTION)

    @field_validator("lat", mode="before")
    @classmethod
    def _lat(cls, v: Any) -> float:
        return _coord(v, "lat", -90, 90)

    @field_validator("lon", mode="before")
    @classmethod
    def _lon(cls, v: Any) -> float:
        return _coord(v, "lon", -180, 180)

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, v: Any) -> str | None:
        try:
            return svc.normalise_phone(v if isinstance(v, (str, type(None))) else "x")
        except svc.ResidentError as e:
            raise ValueError(e.message) from None

    @field_validator("challenge", "challenge_answer", mode="before")
    @classmethod
    def _loose(cls, v: Any) -> Any:
        return None  # read from the raw object by _check_challenge, which says what is wrong with them


class SatisfactionIn(_Body):
    """The resident's verdict after closure (an unknown value or a missing comment is the service's 422/409)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["value"]})

    value: str = Field(default=None, validate_default=True,  # type: ignore[assignment]
                       json_schema_extra={"enum": list(svc.SATISFACTION)})
    comment: str | None = Field(default="", json_schema_extra={"maxLength": svc.MAX_COMMENT},
                                description="required with unsatisfied")

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError("value is required: satisfied, basic or unsatisfied")
        return v

    @field_validator("comment", mode="before")
    @classmethod
    def _comment(cls, v: Any) -> Any:
        if not isinstance(v, (str, type(None))):
            raise ValueError("comment must be text")
        return v


def _parse(model: type[BaseModel], data: dict) -> Any:
    """``data`` through ``model``: its first problem a 422 naming the field, in the words its check says."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "report"
        raise svc.ResidentError(422, field, err["msg"].removeprefix("Value error, ")) from None


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and not (8 <= len(key) <= 100 and key.isprintable()):
        raise svc.ResidentError(422, "Idempotency-Key", "the idempotency key must be 8–100 printable characters")
    return f"r:{key}" if key else None


@bp.post("/api/v1/r/reports")
def resident_report():
    """A resident's report from /r (see the module's docstring)."""
    addr = _address()
    if not _limits().take("RESIDENT", addr):
        return _too_many("RESIDENT", addr, "report", "too many reports from this address; please try again later")
    try:
        return _resident_report(addr)
    except svc.ResidentError as e:
        return _refusal(e)


def _resident_report(addr: str):
    srv, secret = services(), _secret()
    data, files = _report_body()
    key = _idempotency_key()
    code = svc.grid_code_of(secret, data.get("g") if isinstance(data.get("g"), str) else None)
    if code is None:
        raise svc.ResidentError(422, "g", "not a valid QR link of a grid (scan the code posted in the compound)")
    rep = _parse(ResidentReportIn, data)
    category, description, lat, lon, phone = rep.category, rep.description, rep.lat, rep.lon, rep.phone
    if len(files) > svc.MAX_PHOTOS:
        raise svc.ResidentError(422, "photo", f"at most {svc.MAX_PHOTOS} photos")
    if not description and not files:
        raise svc.ResidentError(422, "description", "write a few words or add a photo")
    address_hash = svc.keyed_hash(secret, "addr", addr)
    if key is not None:  # a retry of an answered report: the first answer again, before any limit or challenge
        with srv.db.read() as s:
            t = svc.ticket_by_key(s, key)
            if t is not None:  # on record as a repeat of that case
                name_target(f"case:{s.scalar(select(Case.code).where(Case.id == t.case_id))}")
                return jsonify(_answer(t)), 200
    if phone and not _limits().take("RESIDENT_PHONE", svc.keyed_hash(secret, "phone", phone)):
        return _too_many("RESIDENT_PHONE", svc.keyed_hash(secret, "phone", phone), "phone",
                         "too many reports with this phone number; please try again later")
    _check_challenge(data, address_hash, key)
    tokens = []
    for i, f in enumerate(files):
        try:
            tokens.append(photo_svc.store_upload(srv.settings.uploads_dir, f.stream).token)
        except photo_svc.PhotoError as exc:
            raise svc.ResidentError(exc.status, "photo", f"photo {i + 1}: {exc.message}", index=i) from None
    r = svc.ResidentReport(grid_code=code, category=category, description=description, lat=lat, lon=lon,
                           phone=phone, idempotency_key=key, address_hash=address_hash)
    act_as(None)  # the report's audit row rides in its transaction (an anonymous resident, from this address)
    try:
        with srv.db.write() as s:
            c, t, created = svc.report(s, r, locator=srv.locator, now=services_now(srv))
            if created:
                photo_svc.attach(s, srv.settings.uploads_dir, c, tokens, stage="before")
            out = _answer(t)
    except photo_svc.PhotoError as exc:
        raise svc.ResidentError(exc.status, "photo", exc.message) from None
    except IntegrityError:
        if key is None:
            raise
        with srv.db.read() as s:  # a concurrent twin with the same key committed first: its answer
            t = svc.ticket_by_key(s, key)
            if t is None:
                raise
            out, created = _answer(t), False
    return jsonify(out), 201 if created else 200


def _check_challenge(data: dict, address_hash: str, key: str | None) -> None:
    """After a few reports from this address within the hour, the next one needs the answer to a signed sum."""
    srv, secret, now_s = services(), _secret(), time.time()
    after = srv.settings.resident_challenge_after
    with srv.db.read() as s:
        recent = svc.recent_reports_from(s, address_hash, services_now(srv) - svc.CHALLENGE_WINDOW)
    if recent < after:
        return
    if key is None:  # a sum signed for no key would admit every keyless report for ten minutes once solved
        raise svc.ResidentError(422, "Idempotency-Key", "several reports came from this address: send the report "
                                "with an Idempotency-Key, then answer the sum the server asks")
    answer, token = data.get("challenge_answer"), data.get("challenge")
    answer = str(answer) if isinstance(answer, (str, int)) and not isinstance(answer, bool) else None
    token = token if isinstance(token, str) and len(token) <= 200 else None
    fresh = svc.issue_challenge(secret, address_hash, key or "", now_s)
    if not token or answer in (None, ""):
        raise svc.ResidentError(429, "challenge_answer", "several reports came from this address: answer the sum "
                                "in error.challenge to send another", challenge=fresh)
    if not svc.challenge_passed(secret, token, answer, address_hash, key or "", now_s):
        raise svc.ResidentError(400, "challenge_answer", "the answer to the sum is wrong or too late; a new sum is "
                                "in error.challenge", challenge=fresh)


def _answer(t) -> dict:
    return {"token": t.token, "tracking_code": t.tracking_code, "url": f"/r?t={t.token}"}


def _ticket(s, token: str):
    t = svc.ticket_by_token(s, token)
    if t is None:
        raise ApiError(404, "no report for this link", "token")
    return t


def _read_limited() -> None:
    if not _limits().take("RESIDENT_READ", _address()):
        raise ApiError(429, "too many requests from this address; try again shortly")


@bp.get("/api/v1/r/tickets/<token>")
def resident_ticket(token: str):
    """A report's tracking view (the token is the secret of the tracking link)."""
    _read_limited()
    with services().db.read() as s:
        return jsonify(svc.tracking_view(s, _ticket(s, token), secret=_secret()))


@bp.get("/api/v1/r/tickets/<token>/photos/<int:photo_id>")
def resident_ticket_photo(token: str, photo_id: int):
    """An after-photo of the report's case, to the tracking link's holder only."""
    _read_limited()
    root = services().settings.uploads_dir
    with services().db.read() as s:
        p = svc.after_photo(s, _ticket(s, token), photo_id)
        if p is None:
            raise ApiError(404, f"no after-photo {photo_id} of this report", "photo_id")
        path = photo_svc.file_of(root, p, thumb=request.args.get("thumb") == "1")
    if path is None:
        raise ApiError(404, f"the file of photo {photo_id} is missing", "photo_id")
    return send_file(path, mimetype="image/jpeg", max_age=3600)


@bp.post("/api/v1/r/tickets/<token>/satisfaction")
def resident_satisfaction(token: str):
    """满意 / 基本满意 / 不满意 after closure (不满意 needs a comment and reopens the case once)."""
    _read_limited()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "send a JSON object", "value")
    try:
        verdict = _parse(SatisfactionIn, body)
        value, comment = verdict.value, verdict.comment
        with services().db.write() as s:
            t = _ticket(s, token)
            svc.rate(s, t, value, comment or "", now=services_now(services()))
            out = svc.tracking_view(s, t, secret=_secret())
    except svc.ResidentError as e:
        return _refusal(e)
    return jsonify(out)


@bp.get("/api/v1/r/grids/<g>/call")
def resident_call(g: str):
    """The number the resident's "call" dials (rate-limited per address): the grid worker's public service number,
    else the center's duty number (GC_CENTER_PHONE); never the worker's personal phone."""
    _read_limited()
    code = svc.grid_code_of(_secret(), g)
    if code is None:
        raise ApiError(404, "not a valid QR link of a grid", "g")
    with services().db.read() as s:
        grid_id = s.scalar(select(Grid.id).where(Grid.code == code))
        w: Worker | None = svc.grid_worker(s, grid_id) if grid_id else None
        tel = svc.dial(w.service_phone) if w is not None and w.service_phone else ""
    if tel:  # the worker's public service number; her own phone (Worker.phone) is personal and never given out
        return jsonify({"tel": tel, "of": "worker"})
    center = svc.center_number(services().settings)
    if center:
        return jsonify({"tel": center, "of": "center"})
    raise ApiError(404, "this grid has no service number yet", "g")


TICKET_VIEW = {"type": "object", "required": ["tracking_code", "state", "step", "steps", "can_rate"], "properties": {
    "tracking_code": {"type": "string"}, "category": {"type": "string"}, "state": {"type": "string"},
    "step": {"type": "string", "enum": ["received", "dispatched", "handling", "closed", "void"]},
    "steps": {"type": "object", "additionalProperties": {"type": "string", "nullable": True}},
    "created_at": {"type": "string", "nullable": True}, "reply": {"type": "string", "nullable": True},
    "after_photos": {"type": "array", "items": {"type": "string"}}, "can_rate": {"type": "boolean"},
    "satisfaction": {"type": "string", "nullable": True, "enum": ["satisfied", "basic", "unsatisfied", None]},
    "satisfaction_at": {"type": "string", "nullable": True}, "reopened": {"type": "boolean"},
    "g": {"type": "string", "nullable": True}}}

def register(app, services_) -> None:
    st = services_.settings
    shared = frozenset(n.strip().upper() for n in st.rate_shared.split(",") if n.strip())
    app.extensions["gc_resident_limits"] = RateLimits(
        {"RESIDENT": st.rate_resident, "RESIDENT_PHONE": st.rate_resident_phone,
         # reading a tracking link, rating, the call button: a page's worth per minute
         "RESIDENT_READ": "120/60"}, redis_url=st.redis_url, shared=shared)
    app.register_blueprint(bp)
    api = registry(app)
    answer = api.schema("ResidentReportOut", {"type": "object", "required": ["token", "tracking_code", "url"],
                                              "properties": {"token": {"type": "string"},
                                                             "tracking_code": {"type": "string"},
                                                             "url": {"type": "string"}}})
    view = api.schema("ResidentTicketView", TICKET_VIEW)
    api.ref(ResidentReportIn)  # the report part's schema, also under components (a JSON part of a multipart)
    report_schema = openapi30(ResidentReportIn.model_json_schema())
    key = {"name": "Idempotency-Key", "in": "header", "required": False,
           "schema": {"type": "string", "minLength": 8, "maxLength": 100}}
    api.add("/api/v1/r/reports", "post", summary="A resident's report from /r (anonymous)", tags=["residents"],
            security=False, body={"type": "object", "required": ["report"], "properties": {
                "report": {"type": "string", "description": "the report's fields as a JSON object, "
                           "ResidentReportIn: " + json.dumps(report_schema, ensure_ascii=False)},
                "photo": {"type": "array", "maxItems": svc.MAX_PHOTOS,
                          "items": {"type": "string", "format": "binary"}}}},
            body_type="multipart/form-data", params=[key],
            responses={201: ("received", answer), 200: ("the report an earlier request with this key made", answer),
                       413: "too large (field report or photo)", 415: "a photo is not an image",
                       429: "too many reports from this address or phone, or the challenge (error.challenge)"})
    api.add("/api/v1/r/tickets/{token}", "get", summary="A resident report's progress (tracking link)",
            tags=["residents"], security=False, responses={200: ("the progress", view), 404: "unknown link",
                                                           429: "too many requests"})
    api.add("/api/v1/r/tickets/{token}/photos/{photo_id}", "get", summary="An after-photo of a resident's report",
            tags=["residents"], security=False, responses={200: ("the photo", {"type": "string", "format": "binary"},
                                                                 "image/jpeg"), 404: "no such photo of this report",
                                                           429: "too many requests"})
    api.add("/api/v1/r/tickets/{token}/satisfaction", "post", summary="The resident's verdict after closure",
            tags=["residents"], security=False, body=SatisfactionIn,
            responses={200: ("the progress", view), 404: "unknown link", 409: "not closed yet, or already rated",
                       429: "too many requests"})
    api.add("/api/v1/r/grids/{g}/call", "get", summary="The grid worker's public service number, else the center's "
            "duty number (the call button); never the worker's personal phone", tags=["residents"], security=False,
            responses={200: ("the number to dial", {"type": "object", "required": ["tel", "of"], "properties": {
                "tel": {"type": "string"}, "of": {"type": "string", "enum": ["worker", "center"],
                                                  "description": "whose number: the grid worker's service number "
                                                                 "or the center's duty number"}}}),
                404: "not a grid's QR link, or neither number is set", 429: "too many requests"})
