"""Video dispatch: the call record over HTTP, the ICE configuration, and the socket signalling handlers."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..models import Role
from ..principal import resolve_principal, scope_community
from ..realtime_calls import register_call_handlers
from ..services.calls import calls_of, ice_servers
from .auth import require
from .deps import services
from .errors import id_arg
from .openapi import query, registry

READERS = (Role.DISPATCHER, Role.LEADER)
bp = Blueprint("calls", __name__)


@bp.get("/api/v1/calls")
@require(*READERS)
def calls_list():
    """Calls of a case or a worker (who, when, how long, answered/declined/missed), in the caller's jurisdiction."""
    case_id, worker_id = id_arg(request.args, "case_id"), id_arg(request.args, "worker_id")
    comm = scope_community(resolve_principal(services()))
    with services().db.read() as s:
        return jsonify({"calls": calls_of(s, case_id=case_id, worker_id=worker_id, community_id=comm)})


@bp.get("/api/v1/calls/config")
@require(Role.DISPATCHER, Role.WORKER)
def calls_config():
    """ICE servers for RTCPeerConnection (none by default: same LAN, nothing leaves it)."""
    return jsonify({"ice_servers": ice_servers(services().settings)})


def register(app, services) -> None:  # noqa: ANN001 — the app's hook: the blueprint, its socket side, its docs
    app.register_blueprint(bp)
    register_call_handlers(services.socketio, services)
    api = registry(app)
    api.add("/api/v1/calls", "get", tags=["calls"], roles=READERS, summary="Video calls of a case or a worker",
            params=[query("case_id", "integer"), query("worker_id", "integer")])
    api.add("/api/v1/calls/config", "get", tags=["calls"], roles=(Role.DISPATCHER, Role.WORKER),
            summary="ICE servers for WebRTC (GC_ICE_SERVERS; none by default)")
