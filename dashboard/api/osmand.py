"""/osmand on the main port, and an optional dedicated port (5055) that takes any path, as Traccar does.

No credentials in this protocol: a device is known by its registered id (Worker.device_id).
The answer (200, empty body) goes out after the fixes are committed; the live marker moves
with the next position frame.
"""
from __future__ import annotations

import json
import logging
import threading
from urllib.parse import parse_qsl

from flask import Flask, Response, request

from ..services.osmand import OsmandError, fix_from_params, fixes_from_json
from ..services.positions import ingest_fixes
from .openapi import registry

log = logging.getLogger(__name__)


def _answer(status: int = 200, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def handle(services) -> Response:
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
    try:
        with services.db.write() as s:
            res = ingest_fixes(s, fixes, locator=services.locator)
            if res.unknown_devices:  # all or nothing: a batch naming a stranger stores nothing
                raise OsmandError(404 if is_json else 400,
                                  f"unknown device {', '.join(sorted(set(res.unknown_devices)))}")
    except OsmandError as exc:
        return _answer(exc.status, exc.message)
    services.frames.add(res.moved)
    return _answer(200)


def make_osmand_app(services) -> Flask:
    """A minimal WSGI app for the dedicated port: every path is the OsmAnd endpoint."""
    app = Flask("gridcommand-osmand")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def any_path(path: str):
        return handle(services)

    return app


def serve_dedicated(services, host: str, port: int) -> threading.Thread:
    """Serve the OsmAnd protocol on its own port in a daemon thread (stops with the process)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, make_osmand_app(services), threaded=True)
    t = threading.Thread(target=server.serve_forever, name=f"osmand-{port}", daemon=True)
    t.start()
    log.info("OsmAnd/Traccar positions on http://%s:%d/", host, port)
    return t


def register(app, services) -> None:
    @app.route("/osmand", methods=["GET", "POST"])
    def osmand():
        return handle(services)

    registry(app).add("/osmand", "post", summary="OsmAnd / Traccar Client positions", tags=["positions"],
                      security=False, description=(
                          "Query string (GET/POST), form body, JSON object (Traccar Client 9.x) or JSON array. "
                          "200 with an empty body after commit; unknown device 400 (query/form) or 404 (JSON). "
                          "Also served on the dedicated port (run.py --osmand, default 5055), any path."),
                      responses={200: "stored (empty body)", 400: "bad or unknown (query/form)",
                                 404: "unknown device (JSON)"})
