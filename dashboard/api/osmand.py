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

import json
import logging
import threading
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from ..ratelimit import RateLimits
from ..services.osmand import OsmandError, fix_from_params, fixes_from_json
from ..services.group_commit import GroupCommit
from .deps import services
from .openapi import registry

log = logging.getLogger(__name__)


BODY_PER_FIX = 2048  # bytes: a Traccar fix with cell and Wi-Fi lists stays well below


def _answer(status: int = 200) -> Response:
    return Response("", status=status, mimetype="text/plain")


def _refuse(status: int, message: str, field: str | None = None) -> Response:
    r = jsonify({"error": {"status": status, "message": message, "field": field}})
    r.status_code = status
    return r


def _body(limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes (413 beyond: never parse an oversized body)."""
    if (request.content_length or 0) > limit:
        raise OsmandError(413, f"body larger than {limit} bytes", "body")
    data = request.get_data()  # a body sent without a length is still capped by MAX_CONTENT_LENGTH
    if len(data) > limit:
        raise OsmandError(413, f"body larger than {limit} bytes", "body")
    return data


def _token(pairs: list[tuple[str, str]]) -> str | None:
    """The device token: HTTP Basic's password, else ``token=`` in the URL or the form body."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.password:
        return auth.password
    return request.args.get("token") or next((v for k, v in reversed(pairs) if k == "token"), None)


def _decode(max_fixes: int) -> tuple[list, str | None, bool]:
    """(fixes, token, is_json) of the current request in whichever style it uses."""
    is_json = (request.mimetype or "").startswith("application/json")
    url = parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if any(k != "token" for k, _ in url):  # Traccar: URL parameters win over any body (a token alone is no fix)
        return [fix_from_params(url)], _token(url), is_json
    raw = _body(max_fixes * BODY_PER_FIX)
    if is_json:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise OsmandError(400, "body is not valid JSON", "body")
        return fixes_from_json(body, max_fixes), _token([]), is_json
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        raise OsmandError(400, "no parameters: send id, lat, lon, timestamp", "id")
    pairs = parse_qsl(text, keep_blank_values=True)
    return [fix_from_params(pairs)], _token(pairs), is_json


def handle(batcher: GroupCommit, max_fixes: int) -> Response:
    """Decode the current request, store its fixes, answer fast."""
    try:
        fixes, token, is_json = _decode(max_fixes)
    except OsmandError as exc:
        return _refuse(exc.status, exc.message, exc.field)
    ticket = batcher.submit(fixes, token=token)  # returns after the commit that holds these fixes
    if ticket.error is not None:
        return _refuse(503, "positions could not be stored; retry")
    if ticket.unknown:  # all or nothing: a request naming a stranger stores nothing
        return _refuse(404 if is_json else 400, f"unknown device {', '.join(d[:64] for d in ticket.unknown[:5])}",
                       "device_id" if is_json else "id")
    if ticket.refused:
        r = _refuse(401, "this device needs its token (token= or HTTP Basic password)", "token")
        r.headers["WWW-Authenticate"] = 'Basic realm="gridcommand-osmand"'
        return r
    if ticket.limited:
        r = _refuse(429, "too many fixes from this device; slow down", "id")
        r.headers["Retry-After"] = str(ticket.retry_after or 1)
        return r
    return _answer(200)


def device_batcher(services) -> GroupCommit:
    """The group commit for device fixes, with the per-device budget (GC_RATE_OSMAND, fixes per window)."""
    limits = RateLimits({"OSMAND": services.settings.rate_osmand})
    budget, most = limits.items["OSMAND"], services.settings.osmand_max_fixes
    if budget is not None and budget.amount < most:  # a full buffer could then never be admitted: the client jams
        log.warning("GC_RATE_OSMAND allows %d fixes per device per window, fewer than one request may carry "
                    "(GC_OSMAND_MAX_FIXES=%d): a Traccar client with a full buffer would retry forever",
                    budget.amount, most)
    return GroupCommit(services, limits=limits)


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

    return app


def serve_dedicated(services, host: str, port: int, batcher: GroupCommit | None = None) -> threading.Thread:
    """Serve the OsmAnd protocol on its own port in a daemon thread (stops with the process)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, make_osmand_app(services, batcher), threaded=True)
    t = threading.Thread(target=server.serve_forever, name=f"osmand-{port}", daemon=True)
    t.start()
    log.info("OsmAnd/Traccar positions on http://%s:%d/", host, port)
    return t


bp = Blueprint("osmand", __name__)


@bp.route("/osmand", methods=["GET", "POST"])
def osmand():
    """OsmAnd / Traccar positions through this app's group commit (one per app: the dedicated port shares it)."""
    return handle(current_app.extensions["gc_osmand_group_commit"], services().settings.osmand_max_fixes)


def register(app, services) -> None:
    app.extensions.setdefault("gc_osmand_group_commit", device_batcher(services))
    app.register_blueprint(bp)
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
