"""The live path over HTTP: the event log after a seq (resync, replay) and the start snapshot."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..events import events_after, last_seq, to_message
from ..services.snapshot import snapshot
from ..services.worker_view import worker_messages, worker_snapshot
from ..models import Role
from .deps import services
from .auth import require
from ..principal import resolve_principal, scope_community
from .errors import ApiError, error_response, id_arg, int_arg

LIVE_ROLES = (Role.DISPATCHER, Role.LEADER, Role.DISPLAY, Role.WORKER, Role.INTEGRATION)


def _community_arg(args) -> int | None:
    return id_arg(args, "community_id")
bp = Blueprint("live", __name__)


@bp.get("/api/v1/events")
@require(*LIVE_ROLES)
def events_since():
    """Committed events with seq > after (at most ``limit``), oldest first, in the caller's scope."""
    after = int_arg(request.args, "after", 0, lo=0)
    limit = int_arg(request.args, "limit", 1000, lo=1, hi=5000)
    types = [t for t in request.args.get("types", "").split(",") if t]
    p = resolve_principal(services())
    with services().db.read() as s:
        comm = scope_community(p, _community_arg(request.args))
        rows = events_after(s, after, limit=limit, types=types or None, community_id=comm)
        head = last_seq(s)
        msgs = [to_message(e) for e in rows]
        more = bool(msgs) and msgs[-1]["seq"] < head and len(msgs) == limit
        if p.scope == "worker":  # a phone reads what is about itself (services/worker_view.py)
            msgs = worker_messages(s, msgs, p.worker_id)
    return jsonify({"after": after, "events": msgs, "last_seq": head, "more": more})


@bp.get("/api/v1/snapshot")
@require(*LIVE_ROLES)
def live_snapshot():
    """What a screen starts from, with the seq to resume the live stream after (in the caller's scope)."""
    p = resolve_principal(services())
    comm = scope_community(p, _community_arg(request.args))
    with services().db.read() as s:
        if p.scope == "worker":
            return jsonify(worker_snapshot(s, worker_id=p.worker_id))
        view = request.args.get("view")
        if view not in (None, "", "wall"):
            raise ApiError(422, "view must be 'wall' or absent", "view")
        return jsonify(snapshot(s, community_id=comm, view=view or None))


def register(app, services) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(ApiError)  # every route's, not only this blueprint's
    def _api_error(e: ApiError):
        return error_response(e.status, e.message, e.field)
