"""The wall's HTTP side: today's figures, refetched (debounced) by the wall when cases change.

Grid shapes are served by /api/v1/grids (field_people); live data by /api/v1/snapshot and the socket.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, request

from ..events import last_seq
from ..models import Role
from ..services.wall_scope import MAX_VIEW_GRIDS, grids_in_view, parse_bbox
from ..services.wall_stats import wall_stats
from .deps import services
from .auth import require
from ..principal import resolve_principal, scope_community
from .errors import ApiError, int_arg

VIEWERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
bp = Blueprint("wall", __name__)


@bp.get("/api/v1/wall/stats")
@require(*VIEWERS)
def wall_stats_view():
    """Counters, by-category, hourly today vs yesterday, community ranking, per-grid measures — of the
    caller's community for a community-bound caller. ``after``: the figures must include every event up to
    this seq (the wall passes the seq of the last case it showed); without it, every event committed so far."""
    comm = scope_community(resolve_principal(services()))
    after = int_arg(request.args, "after", -1, lo=0, hi=2**62)
    with services().db.read() as s:
        now_seq = last_seq(s)  # a seq from the future (a reset database) cannot force a build per call
        need = now_seq if after < 0 else min(after, now_seq)
        # every wall refetches after the same case event: one computation per community serves them all
        # (one build at a time; a few seconds old at most, so time-driven figures such as overdue still move),
        # kept as the JSON it is sent as
        _, body = services().memo.get(("wall-stats", comm), 3.0, lambda: _encoded(wall_stats(s, community_id=comm)),
                                      fresh=lambda v: v[0] >= need)
    resp = Response(body, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/v1/wall/grids")
@require(*VIEWERS)
def wall_grids_view():
    """The grids of a map view (``bbox=west,south,east,north`` in the map's datum) with their outlines and counts,
    and the workers out in them: what a district's or city's wall draws once zoomed in. In the caller's scope."""
    bbox = parse_bbox(request.args.get("bbox", ""))
    if bbox is None:
        raise ApiError(422, "bbox must be west,south,east,north in degrees (west < east, south < north)", "bbox")
    if bbox[2] - bbox[0] > 2 or bbox[3] - bbox[1] > 2:
        raise ApiError(422, "bbox spans more than 2 degrees: zoom in", "bbox")
    comm = scope_community(resolve_principal(services()))
    with services().db.read() as s:
        body = grids_in_view(s, bbox, community_id=comm, gcj=services().settings.tile_crs == "gcj02")
    resp = Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


_RING = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
GRIDS_SCHEMA = {"type": "object", "required": ["bbox", "grids", "truncated", "workers", "people"], "properties": {
    "bbox": {"type": "array", "items": {"type": "number"}},
    "grids": {"type": "array", "items": {"type": "object", "required": ["id", "rings", "open", "today"], "properties": {
        "id": {"type": "integer"}, "community_id": {"type": ["integer", "null"]}, "code": {"type": "string"},
        "name": {"type": "string"}, "rings": {"type": "array", "items": _RING},
        "open": {"type": "integer"}, "today": {"type": "integer"}}}},
    "truncated": {"type": "boolean"},
    "worker_fields": {"type": "array", "items": {"type": "string"}},
    "workers": {"type": "array", "items": {"type": "array"}},
    "people": {"type": "object", "additionalProperties": {"type": "array"}}}}


def register(app, services) -> None:
    app.register_blueprint(bp)
    try:
        from .openapi import registry
    except ImportError:  # the OpenAPI registry is optional for the wall
        return
    registry(app).add("/api/v1/wall/stats", "get", summary="Today's wall figures (counters, categories, hourly "
                      "today vs yesterday, community ranking, per-grid measures)", tags=["wall"], roles=VIEWERS,
                      params=[{"name": "after", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                               "description": "the figures include every event up to this seq"}],
                      responses={200: "figures with the seq they are at least as recent as"})
    registry(app).add("/api/v1/wall/grids", "get", summary="The grids of a map view with their outlines and counts, "
                      "and the workers out in them (a district's or city's wall zoomed in)", tags=["wall"],
                      roles=VIEWERS,
                      params=[{"name": "bbox", "in": "query", "required": True, "schema": {"type": "string"},
                               "description": "west,south,east,north in degrees, at most 2 degrees each way"}],
                      responses={200: (f"at most {MAX_VIEW_GRIDS} grids, nearest the view's centre first",
                                       GRIDS_SCHEMA), 422: "bbox missing or malformed"})


def _encoded(stats: dict) -> tuple[int, bytes]:
    return stats["seq"], json.dumps(stats, ensure_ascii=False, separators=(",", ":")).encode()
