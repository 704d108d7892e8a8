"""Cameras: the list with how to play each, the simulated demo streams, and hls.js served on demand.

``/cameras/<code>/mjpeg`` streams multipart/x-mixed-replace JPEG frames at a low rate, for at most
GC_CAMERA_STREAM_MAX_S seconds (a viewer that wants more opens it again): a forgotten tab, a fuzzer or a proxy
holds no connection and thread for ever. The OpenAPI document marks it ``x-endless``.
``/cameras/<code>/snapshot.jpg`` is one frame. hls.js (~400 KB) is not in assets/ (Dash
would load it on every page); the player fetches ``/vendor/hls.min.js`` only when a
camera is HLS.
"""
from __future__ import annotations

import logging
import time
from typing import Any
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_from_directory

from ..models import Role
from ..services.cameras import camera_view, list_cameras, render_frame, sim_source
from .deps import services
from ..principal import in_scope, resolve_principal, scope_community
from .auth import require
from .errors import ID_MAX, ApiError, int_arg, strict_int
from .openapi import query, registry

log = logging.getLogger(__name__)
VIEWERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
CALLERS: frozenset[str] = frozenset({Role.DISPATCHER, Role.ADMIN})  # who may start a video call (realtime_calls)
VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"
BOUNDARY = "gcframe"


def _ids(raw: str | None, name: str) -> list[int] | None:
    if not raw:
        return None
    return [strict_int(x.strip(), name, lo=1, hi=ID_MAX) for x in raw.split(",") if x.strip()]


def stream_max_s(settings) -> float:
    """GC_CAMERA_STREAM_MAX_S in seconds (a finite number above 0: dashboard/config.py checked it at start)."""
    return float(settings.camera_stream_max_s)


bp = Blueprint("cameras", __name__)


@bp.get("/api/v1/cameras")
@require(*VIEWERS)
def cameras_list():
    """Cameras in the caller's jurisdiction, optionally of some grids or by id."""
    grid_ids, camera_ids = _ids(request.args.get("grid_id"), "grid_id"), _ids(request.args.get("id"), "id")
    comm = scope_community(resolve_principal(services()))
    with services().db.read() as s:
        return jsonify({"cameras": list_cameras(s, grid_ids=grid_ids, camera_ids=camera_ids, community_id=comm)})


@bp.get("/api/v1/cameras/<int:camera_id>/view")
@require(*VIEWERS)
def camera_view_api(camera_id: int):
    """One camera's live picture and whom to call: its grid's on-duty workers, nearest first (masked)."""
    p = resolve_principal(services())
    with services().db.read() as s:
        out = camera_view(s, camera_id, community_id=scope_community(p))
    if out is None or not in_scope(p, out["grid"]["community_id"] if out["grid"] else None):
        raise ApiError(404, f"no camera {camera_id}", "camera_id")
    # who may ring a worker from here: the realtime call handler's rule (dispatchers, admins; not a display)
    out["can_call"] = p is not None and p.role in CALLERS
    return jsonify(out)


def source(code: str) -> tuple[str, str]:
    """(name, grid name) of a simulated camera; another community's camera is as unknown as a missing one."""
    with services().db.read() as s:
        src = sim_source(s, code)
    if src is None or not in_scope(resolve_principal(services()), src[2]):
        raise ApiError(404, f"no camera {code}", "code")
    return src[0], src[1]


@bp.get("/cameras/<code>/snapshot.jpg")
@require(*VIEWERS)
def camera_snapshot(code: str):
    name, grid = source(code)
    return Response(render_frame(code, name, grid), mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store"})


@bp.get("/cameras/<code>/mjpeg")
@require(*VIEWERS)
def camera_mjpeg(code: str):
    name, grid = source(code)
    fps = int_arg(request.args, "fps", 3, lo=1, hi=5)
    limit = int_arg(request.args, "frames", 0, lo=0, hi=1_000_000)  # 0 = until the viewer leaves
    # the generator below runs after the view returned, outside the app's context: take what it needs now
    guard: Any = services().socket_guard  # live_guard.SocketGuard
    stop, addr = services().stop, request.remote_addr or "?"
    max_s = stream_max_s(services().settings)
    if not guard.take_stream(addr):  # a stream holds a connection as a live socket does: the same caps
        raise ApiError(503, "too many live connections right now; retry shortly")

    def frames():
        n, end = 0, time.monotonic() + max_s
        while not stop.is_set() and (limit == 0 or n < limit) and time.monotonic() < end:
            jpeg = render_frame(code, name, grid)
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                   .encode() + jpeg + b"\r\n")
            n += 1
            if stop.wait(1.0 / fps):
                break

    resp = Response(frames(), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    # the server closes every response, read or not (not direct_passthrough: that would skip these callbacks)
    resp.call_on_close(lambda: guard.release_stream(addr))
    return resp


@bp.get("/vendor/<path:name>")
def vendor_file(name: str):
    """Vendored scripts loaded only by the pages that need them (hls.js)."""
    return send_from_directory(VENDOR, name, max_age=86400)


def register(app, services) -> None:
    app.register_blueprint(bp)
    max_s = stream_max_s(services.settings)
    api = registry(app)
    api.add("/api/v1/cameras", "get", tags=["cameras"], roles=VIEWERS, summary="Cameras and how to play each",
            params=[query("grid_id", description="comma-separated grid ids"),
                    query("id", description="comma-separated camera ids")], responses={200: "cameras"})
    api.add("/cameras/{code}/mjpeg", "get", tags=["cameras"], roles=VIEWERS,
            summary="A simulated camera's MJPEG stream (multipart/x-mixed-replace)",
            description=f"Endless: frames until the viewer leaves, `frames` are sent or {max_s:g} s have passed "
                        "(GC_CAMERA_STREAM_MAX_S), whichever comes first. Clients and fuzzers must not wait for "
                        "its end (`x-endless`).",
            params=[query("fps", "integer", "frames per second, 1–5 (default 3)", minimum=1, maximum=5),
                    query("frames", "integer", "stop after this many frames (0 = until the maximum duration)",
                          minimum=0, maximum=1_000_000)],
            responses={200: ("the stream", {"type": "string", "format": "binary"},
                             f"multipart/x-mixed-replace; boundary={BOUNDARY}"), 404: "no such camera"},
            extensions={"x-endless": True, "x-max-duration-s": max_s})
    api.add("/api/v1/cameras/{camera_id}/view", "get", tags=["cameras"], roles=VIEWERS,
            summary="One camera to watch and whom to call: how to play it, its grid, and the grid's on-duty "
                    "workers nearest the camera first (masked names, codes, distance from their last fix)",
            responses={200: "the camera view", 404: "no such camera"})
    api.add("/cameras/{code}/snapshot.jpg", "get", tags=["cameras"], roles=VIEWERS,
            summary="One JPEG frame of a simulated camera", responses={200: "image/jpeg", 404: "no such camera"})
