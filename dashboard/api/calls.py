"""Video dispatch: the call record over HTTP, the ICE configuration, and the socket signalling handlers."""
from __future__ import annotations

from flask import jsonify, request

from ..models import Role
from ..realtime_calls import register_call_handlers
from ..services.calls import calls_of, ice_servers
from .auth import require, resolve_principal, scope_community
from .errors import ApiError
from .openapi import query, registry

READERS = (Role.DISPATCHER, Role.LEADER)


def register(app, services) -> None:
    register_call_handlers(services.socketio, services)

    @app.get("/api/v1/calls")
    @require(*READERS, services=services)
    def calls_list():
        """Calls of a case or a worker (who, when, how long, answered/declined/missed), in the caller's jurisdiction."""
        case_id, worker_id = request.args.get("case_id"), request.args.get("worker_id")
        for name, v in (("case_id", case_id), ("worker_id", worker_id)):
            if v is not None and not v.isdigit():
                raise ApiError(400, f"{name} must be an integer", name)
        comm = scope_community(resolve_principal(services))
        with services.db.read() as s:
            return jsonify({"calls": calls_of(s, case_id=int(case_id) if case_id else None,
                                              worker_id=int(worker_id) if worker_id else None, community_id=comm)})

    @app.get("/api/v1/calls/config")
    @require(Role.DISPATCHER, Role.WORKER, services=services)
    def calls_config():
        """ICE servers for RTCPeerConnection (none by default: same LAN, nothing leaves it)."""
        return jsonify({"ice_servers": ice_servers(services.settings)})

    api = registry(app)
    api.add("/api/v1/calls", "get", tags=["calls"], roles=READERS, summary="Video calls of a case or a worker",
            params=[query("case_id", "integer"), query("worker_id", "integer")])
    api.add("/api/v1/calls/config", "get", tags=["calls"], roles=(Role.DISPATCHER, Role.WORKER),
            summary="ICE servers for WebRTC (GC_ICE_SERVERS; none by default)")
