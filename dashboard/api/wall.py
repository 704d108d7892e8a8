"""The wall's HTTP side: today's figures, refetched (debounced) by the wall when cases change.

Grid shapes are served by /api/v1/grids (field_people); live data by /api/v1/snapshot and the socket.
"""
from __future__ import annotations

from flask import jsonify

from ..events import last_seq
from ..models import Role
from ..services.wall_stats import wall_stats
from .auth import require, resolve_principal, scope_community

VIEWERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY)


def register(app, services) -> None:
    @app.get("/api/v1/wall/stats")
    @require(*VIEWERS, services=services)
    def wall_stats_view():
        """Counters, by-category, hourly today vs yesterday, community ranking, per-grid measures — of the
        caller's community for a community-bound caller."""
        comm = scope_community(resolve_principal(services))
        with services.db.read() as s:
            # every wall refetches after the same case event: one computation per community and seq serves them
            # all (a few seconds at most, so time-driven figures such as overdue still move)
            key = ("wall-stats", comm, last_seq(s))
            resp = jsonify(services.memo.get(key, 3.0, lambda: wall_stats(s, community_id=comm)))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    try:
        from .openapi import registry
    except ImportError:  # the OpenAPI registry is optional for the wall
        return
    registry(app).add("/api/v1/wall/stats", "get", summary="Today's wall figures (counters, categories, hourly "
                      "today vs yesterday, community ranking, per-grid measures)", tags=["wall"], roles=VIEWERS,
                      responses={200: "figures with the seq they are at least as recent as"})
