"""The wall's HTTP side: today's figures, refetched (debounced) by the wall when cases change.

Grid shapes are served by /api/v1/grids (field_people); live data by /api/v1/snapshot and the socket.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, request

from ..events import last_seq
from ..models import Role
from ..services.wall_stats import wall_stats
from .deps import services
from .auth import require
from ..principal import resolve_principal, scope_community
from .errors import int_arg

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


def _encoded(stats: dict) -> tuple[int, bytes]:
    return stats["seq"], json.dumps(stats, ensure_ascii=False, separators=(",", ":")).encode()
