"""/osmand on the main port, and an optional dedicated port (5055) that takes any path, as Traccar does.

The protocol has no credentials: a device is known by its registered id (Worker.device_id). A device
may also be given a token (POST /api/v1/workers/<id>/device-token); its fixes must then carry it as
``token=`` (URL or form body) or as the password of HTTP Basic, else 401. Concurrent requests share
transactions (services/group_commit.py); the answer (200, empty body) goes out after the commit
that holds the request's fixes; the live marker moves with the next position frame. Limits: the
body (2 KB per allowed fix), fixes per request (``GC_OSMAND_MAX_FIXES``, 413) and fixes per device
per window (``GC_RATE_OSMAND``, 429, counted for verified devices only). Refusals are the API's
JSON error naming the field; clients only look at the status.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlparse

from flask import Blueprint, Flask, Response, current_app, request

from ..ratelimit import RateLimits
from ..services.osmand import OsmandError, fix_from_params, fixes_from_json
from ..services.group_commit import DeviceBudget, GroupCommit
from .deps import services
from .openapi import registry

log = logging.getLogger(__name__)


BODY_PER_FIX = 2048  # bytes: a Traccar fix with cell and Wi-Fi lists stays well below


JSON_ERROR = "application/json"
LEAN_HEADERS = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Cache-Control", "no-store")]
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 503: "Service Unavailable"}


class Reply:
    """An answer of the OsmAnd endpoint as plain bytes: the same on the main port, the dedicated port and in Flask."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int = 200, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or []

    @classmethod
    def refuse(cls, status: int, message: str, field: str | None = None, **extra: str) -> "Reply":
        body = json.dumps({"error": {"status": status, "message": message, "field": field}},
                          ensure_ascii=False).encode()
        return cls(status, body, [(k.replace("_", "-"), v) for k, v in extra.items()])

    def wsgi_headers(self) -> list[tuple[str, str]]:
        kind = JSON_ERROR if self.body else "text/plain; charset=utf-8"
        return [("Content-Type", kind), ("Content-Length", str(len(self.body))), *LEAN_HEADERS, *self.headers]

    def status_line(self) -> str:
        return f"{self.status} {REASONS.get(self.status, 'Error')}"


def _body(environ, limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes (413 beyond: never parse an oversized body)."""
    raw_len = environ.get("CONTENT_LENGTH") or ""
    try:
        length = int(raw_len) if raw_len.strip() else None
    except ValueError:
        raise OsmandError(400, "Content-Length is not a number", "Content-Length")
    if length is not None and length < 0:
        raise OsmandError(400, "Content-Length is negative", "Content-Length")
    if (length or 0) > limit:
        raise OsmandError(413, f"body larger than {limit} bytes", "body")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length is not None:
        data = stream.read(length) if length else b""
    elif environ.get("wsgi.input_terminated"):  # a chunked body the server de-chunks: still read no further
        data = stream.read(limit + 1)
    else:
        data = b""
    if len(data) > limit:
        raise OsmandError(413, f"body larger than {limit} bytes", "body")
    return data


def _basic_password(environ) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    if auth[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(auth[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    _, sep, password = text.partition(":")
    return password if sep and password else None


def _token(environ, url: list[tuple[str, str]], pairs: list[tuple[str, str]]) -> str | None:
    """The device token: HTTP Basic's password, else ``token=`` in the URL or the form body."""
    return _basic_password(environ) or next((v for k, v in url if k == "token"), None) \
        or next((v for k, v in reversed(pairs) if k == "token"), None)


def decode(environ, max_fixes: int) -> tuple[list, str | None, bool]:
    """(fixes, token, is_json) of a WSGI request in whichever style it uses."""
    mimetype = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
    is_json = mimetype.startswith("application/json")
    qs = (environ.get("QUERY_STRING") or "").encode("latin-1", "replace").decode("utf-8", "replace")
    url = parse_qsl(qs, keep_blank_values=True)
    if any(k != "token" for k, _ in url):  # Traccar: URL parameters win over any body (a token alone is no fix)
        return [fix_from_params(url)], _token(environ, url, []), is_json
    raw = _body(environ, max_fixes * BODY_PER_FIX)
    if is_json:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise OsmandError(400, "body is not valid JSON", "body")
        return fixes_from_json(body, max_fixes), _token(environ, url, []), is_json
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        raise OsmandError(400, "no parameters: send id, lat, lon, timestamp", "id")
    pairs = parse_qsl(text, keep_blank_values=True)
    return [fix_from_params(pairs)], _token(environ, url, pairs), is_json


def outcome(ticket, is_json: bool) -> Reply:
    if ticket.error is not None:
        return Reply.refuse(503, "positions could not be stored; retry")
    if ticket.unknown:  # all or nothing: a request naming a stranger stores nothing
        return Reply.refuse(404 if is_json else 400,
                            f"unknown device {', '.join(d[:64] for d in ticket.unknown[:5])}",
                            "device_id" if is_json else "id")
    if ticket.refused:
        return Reply.refuse(401, "this device needs its token (token= or HTTP Basic password)", "token",
                            WWW_Authenticate='Basic realm="gridcommand-osmand"')
    if ticket.limited:
        return Reply.refuse(429, "too many fixes from this device; slow down", "id",
                            Retry_After=str(ticket.retry_after or 1))
    return Reply(200)


def cross_origin(environ) -> bool:
    """The main port's CSRF rule (api/security.py) for this endpoint: a POST from a foreign page's ``Origin``
    carrying no credential header is refused. Phones send no Origin."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return False
    if environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_X_API_KEY"):
        return False
    origin = environ.get("HTTP_ORIGIN")
    return origin is not None and (origin == "null" or urlparse(origin).netloc != environ.get("HTTP_HOST", ""))


def prepare(environ, max_fixes: int) -> tuple[list, str | None, bool] | Reply:
    """Decode a request: its fixes, or the refusal (4xx naming the field) when it is malformed."""
    try:
        return decode(environ, max_fixes)
    except OsmandError as exc:
        return Reply.refuse(exc.status, exc.message, exc.field)


def respond(environ, batcher: GroupCommit, max_fixes: int) -> Reply:
    """Decode the request, store its fixes, answer: the answer goes out after the commit that holds them."""
    got = prepare(environ, max_fixes)
    if isinstance(got, Reply):
        return got
    fixes, token, is_json = got
    ticket = batcher.submit(fixes, token=token)  # returns after the commit that holds these fixes
    return outcome(ticket, is_json)


def handle(batcher: GroupCommit, max_fixes: int) -> Response:
    """The Flask view's answer (test clients, and apps built without the lean edge)."""
    r = respond(request.environ, batcher, max_fixes)
    resp = Response(r.body, status=r.status, mimetype=JSON_ERROR if r.body else "text/plain")
    for k, v in r.headers:
        resp.headers[k] = v
    return resp


class OsmandEdge:
    """WSGI, in front of Flask: ``GET``/``POST /osmand`` is answered here without Flask's request machinery
    (sessions, CSRF cookie, page doors, audit and language hooks cost more than the fix), with the same guards
    that apply to it there (the Host check and ProxyFix run outside this layer; a foreign ``Origin`` on a POST
    is refused as the CSRF rule does). With ``any_path`` (the dedicated port) every path is the endpoint."""

    def __init__(self, inner, batcher: GroupCommit, max_fixes: int, any_path: bool = False) -> None:
        self.inner, self.batcher, self.max_fixes, self.any_path = inner, batcher, max_fixes, any_path

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if (self.any_path or environ.get("PATH_INFO") == "/osmand") and method in ("GET", "POST"):
            if not self.any_path and cross_origin(environ):
                r = Reply.refuse(403, "cross-origin request refused", "X-CSRF-Token")
            else:
                r = respond(environ, self.batcher, self.max_fixes)
            start_response(r.status_line(), r.wsgi_headers())
            return [r.body]
        return self.inner(environ, start_response)


def device_batcher(services) -> GroupCommit:
    """The group commit for device fixes, with the per-device budget (GC_RATE_OSMAND, fixes per window)."""
    limits = RateLimits({"OSMAND": services.settings.rate_osmand})
    budget, most = limits.items["OSMAND"], services.settings.osmand_max_fixes
    if budget is not None and budget.amount < most:  # a full buffer could then never be admitted: the client jams
        log.warning("GC_RATE_OSMAND allows %d fixes per device per window, fewer than one request may carry "
                    "(GC_OSMAND_MAX_FIXES=%d): a Traccar client with a full buffer would retry forever",
                    budget.amount, most)
    return GroupCommit(services, limits=None if budget is None else DeviceBudget(
        budget.amount, budget.get_expiry()))


def make_osmand_app(services, batcher: GroupCommit | None = None) -> Flask:
    """A minimal WSGI app for the dedicated port: every path is the OsmAnd endpoint."""
    app = Flask("gridcommand-osmand")
    max_fixes = services.settings.osmand_max_fixes
    app.config["MAX_CONTENT_LENGTH"] = max_fixes * BODY_PER_FIX
    batcher = batcher or device_batcher(services)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str):
        return handle(batcher, max_fixes)

    app.wsgi_app = OsmandEdge(app.wsgi_app, batcher, max_fixes, any_path=True)  # type: ignore[method-assign]
    return app


def by_port(main_wsgi, services, batcher: GroupCommit, port: int):
    """WSGI for a server that listens on both ports (``run.py prod --osmand-port``: gunicorn binds both and sets
    ``SERVER_PORT`` from the listening socket, never from a header): requests to the dedicated port are the
    OsmAnd endpoint on any path, as on ``python run.py --osmand``; the rest is the app."""
    osmand = OsmandEdge(None, batcher, services.settings.osmand_max_fixes, any_path=True)
    wanted = str(port)
    not_allowed = Reply.refuse(405, "GET or POST", "method", Allow="GET, POST")

    def dispatch(environ, start_response):
        if environ.get("SERVER_PORT") != wanted:
            return main_wsgi(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            start_response(not_allowed.status_line(), not_allowed.wsgi_headers())
            return [not_allowed.body]
        return osmand(environ, start_response)

    return dispatch


def serve_dedicated(services, host: str, port: int, batcher: GroupCommit | None = None):
    """Serve the OsmAnd protocol on its own port (any path) from an event loop in a daemon thread (stops with
    the process); the fixes go through ``batcher`` (the main port's: one per-device budget for both)."""
    from .osmand_port import serve_port

    return serve_port(services, host, port, batcher or device_batcher(services))


bp = Blueprint("osmand", __name__)


@bp.route("/osmand", methods=["GET", "POST"])
def osmand():
    """OsmAnd / Traccar positions through this app's group commit (one per app: the dedicated port shares it)."""
    return handle(current_app.extensions["gc_osmand_group_commit"], services().settings.osmand_max_fixes)


def register(app, services) -> None:
    batcher = app.extensions.setdefault("gc_osmand_group_commit", device_batcher(services))
    app.register_blueprint(bp)  # the route stays for the OpenAPI document, methods the edge lets through (405)
    app.wsgi_app = OsmandEdge(app.wsgi_app, batcher, services.settings.osmand_max_fixes)
    api = registry(app)
    params = [{"name": n, "in": "query", "required": n == "id", "description": d, "schema": {"type": "string"}}
              for n, d in (("id", "device id (or deviceid)"), ("lat", "WGS-84"), ("lon", "WGS-84"),
                           ("timestamp", "Unix s or ms, ISO 8601 with zone, or yyyy-MM-dd HH:mm:ss Asia/Shanghai"),
                           ("speed", "knots"), ("bearing", "degrees"), ("accuracy", "m"), ("batt", "percent"),
                           ("alarm", "sos, fallDown, lowBattery, powerCut … (Traccar's names; others: a general "
                                     "device alarm)"),
                           ("token", "the device's token, when one is set (or HTTP Basic password)"))]
    refusals: dict[int | str, Any] = {401: "the device has a token and the request lacks it", 413: "body or number of fixes too large",
                429: "too many fixes from this device (Retry-After)"}
    api.add("/osmand", "get", summary="OsmAnd / Traccar Client positions (query string)", tags=["positions"],
            security=False, params=params,
            responses={200: "stored (empty body)", 400: "bad or unknown device", **refusals})
    api.add("/osmand", "post", summary="OsmAnd / Traccar Client positions", tags=["positions"],
            security=False, description=(
                "Query string (GET/POST), form body, JSON object (Traccar Client 9.x) or JSON array. "
                "200 with an empty body after commit; unknown device 400 (query/form) or 404 (JSON). "
                "Also served on the dedicated port (run.py --osmand, default 5055), any path. At most "
                "GC_OSMAND_MAX_FIXES (100) fixes a request; fixes more than GC_POSITION_MAX_FUTURE_S ahead of "
                "the server clock are stored at their receive time."),
            responses={200: "stored (empty body)", 400: "bad or unknown (query/form)", 404: "unknown device (JSON)",
                       **refusals})
