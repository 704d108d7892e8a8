"""/osmand on the main port, and an optional dedicated port (5055) that takes any path, as Traccar does.

No credentials in this protocol: a device is known by its registered id (Worker.device_id).
Concurrent requests share transactions (services/group_commit.py); the answer (200, empty
body) goes out after the commit that holds the request's fixes; the live marker moves with
the next position frame.
"""
from __future__ import annotations

import json
import logging
import threading
from urllib.parse import parse_qsl

from flask import Flask, Response, request

from ..services.osmand import OsmandError, fix_from_params, fixes_from_json
from ..services.group_commit import GroupCommit
from .openapi import registry

log = logging.getLogger(__name__)


def _answer(status: int = 200, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def handle(batcher: GroupCommit) -> Response:
    """Decode the current request in whichever style it uses, store its fixes, answer fast."""
    is_json = (request.mimetype or "").startswith("application/json")
    try:
        if request.args:  # Traccar: URL parameters win over any body
            fixes = [fix_from_params(parse_qsl(request.query_string.decode("utf-8", "replace"),
                                               keep_blank_values=True))]
        elif is_json:
            try:
                body = json.loads(request.get_data(cache=False) or b"null")
            except ValueError:
                raise OsmandError(400, "body is not valid JSON")
            fixes = fixes_from_json(body)
        else:
            raw = request.get_data(cache=False).decode("utf-8", "replace")
            if not raw.strip():
                raise OsmandError(400, "no parameters: send id, lat, lon, timestamp")
            fixes = [fix_from_params(parse_qsl(raw.strip(), keep_blank_values=True))]
    except OsmandError as exc:
        return _answer(exc.status, exc.message)
    ticket = batcher.submit(fixes)  # returns after the commit that holds these fixes
    if ticket.error is not None:
        return _answer(503, "positions could not be stored; retry")
    if ticket.unknown:  # all or nothing: a request naming a stranger stores nothing
        return _answer(404 if is_json else 400, f"unknown device {', '.join(ticket.unknown)}")
    return _answer(200)


def make_osmand_app(services, batcher: GroupCommit | None = None) -> Flask:
    """A minimal WSGI app for the dedicated port: every path is the OsmAnd endpoint."""
    app = Flask("gridcommand-osmand")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    batcher = batcher or GroupCommit(services)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str):
        return handle(batcher)

    return app


def serve_dedicated(services, host: str, port: int, batcher: GroupCommit | None = None) -> threading.Thread:
    """Serve the OsmAnd protocol on its own port in a daemon thread (stops with the process)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, make_osmand_app(services, batcher), threaded=True)
    t = threading.Thread(target=server.serve_forever, name=f"osmand-{port}", daemon=True)
    t.start()
    log.info("OsmAnd/Traccar positions on http://%s:%d/", host, port)
    return t


def register(app, services) -> None:
    batcher = app.extensions.setdefault("gc_osmand_group_commit", GroupCommit(services))

    @app.route("/osmand", methods=["GET", "POST"])
    def osmand():
        return handle(batcher)

    api = registry(app)
    params = [{"name": n, "in": "query", "required": n == "id", "description": d, "schema": {"type": "string"}}
              for n, d in (("id", "device id (or deviceid)"), ("lat", "WGS-84"), ("lon", "WGS-84"),
                           ("timestamp", "Unix s or ms, ISO 8601 with zone, or yyyy-MM-dd HH:mm:ss Asia/Shanghai"),
                           ("speed", "knots"), ("bearing", "degrees"), ("accuracy", "m"), ("batt", "percent"),
                           ("alarm", "e.g. sos"))]
    api.add("/osmand", "get", summary="OsmAnd / Traccar Client positions (query string)", tags=["positions"],
            security=False, params=params, responses={200: "stored (empty body)", 400: "bad or unknown device"})
    api.add("/osmand", "post", summary="OsmAnd / Traccar Client positions", tags=["positions"],
            security=False, description=(
                "Query string (GET/POST), form body, JSON object (Traccar Client 9.x) or JSON array. "
                "200 with an empty body after commit; unknown device 400 (query/form) or 404 (JSON). "
                "Also served on the dedicated port (run.py --osmand, default 5055), any path."),
            responses={200: "stored (empty body)", 400: "bad or unknown (query/form)", 404: "unknown device (JSON)"})
