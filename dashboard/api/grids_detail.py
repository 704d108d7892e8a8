"""GET /api/v1/grids/<id>/register: one grid's drill-down register (人地事物情组织), masked."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..models import Role
from ..services.drilldown import SCOPES, grid_register
from .deps import caller, services
from .auth import require
from .cases_ops import services_now
from .errors import ApiError
from .openapi import query, registry

READERS = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
bp = Blueprint("grids_detail", __name__)


@bp.get("/api/v1/grids/<int:grid_id>/register")
@require(*READERS)
def grid_register_view(grid_id: int):
    """The register; ``scope=wall`` (forced for display screens) leaves out reporters."""
    scope = request.args.get("scope", "console")
    if scope not in SCOPES:
        raise ApiError(400, f"scope must be one of {', '.join(SCOPES)}", "scope")
    if caller().role == Role.DISPLAY:
        scope = "wall"
    with services().db.read() as s:
        out = grid_register(s, grid_id, scope=scope, now=services_now(services()))
    if out is None:
        raise ApiError(404, f"no grid {grid_id}", "grid_id")
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    api.add("/api/v1/grids/{grid_id}/register", "get", tags=["grids"], roles=READERS,
            summary="A grid's register: residents (counts), places, cases, cameras, organisations, "
                    "workers with today's track, 五级联动 contacts — every name and phone masked",
            params=[query("scope", description="console (default) or wall; display screens always get wall",
                          enum=list(SCOPES))],
            responses={200: "the register", 404: "no such grid"})
