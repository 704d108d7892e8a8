"""Video-call signalling over the page's existing Socket.IO connection.

A worker's /m page emits ``join_worker`` and, if the session (or the demo operator)
may act for that worker, joins the room ``worker:<id>``. The console invites; the
server records the call and rings the room; answer, decline, hang-up and the WebRTC
offer/answer/ICE messages are relayed between the two sockets. Every message to a
browser is ``call`` with a ``type``: ring, taken, answered, declined, hangup, signal.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room, leave_room, rooms

from .errors import ApiError
from .models import Role, Worker
from .principal import record_in_scope, resolve_principal
from .realtime import worker_room
from .services import calls

log = logging.getLogger(__name__)
OPERATOR_ROLES = (Role.DISPATCHER, Role.ADMIN)
SIGNAL_KINDS = ("offer", "answer", "ice")


def _principal(services):
    if services.socket_guard.is_resident(request.sid):  # a residents' page's socket only hears notices
        return None
    try:
        return resolve_principal(services)
    except ApiError:
        return None


def may_act_for_worker(principal, worker_id: int) -> bool:
    """A worker may answer for themselves; the demo operator on localhost for anyone (demo only)."""
    if principal is None:
        return False
    return principal.is_demo or principal.role == Role.ADMIN or (
        principal.role == Role.WORKER and principal.worker_id == worker_id)


def _int(data: Any, key: str) -> int | None:
    v = data.get(key) if isinstance(data, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def register_call_handlers(socketio: SocketIO, services) -> None:
    """Wire the call events; called once by the calls API module."""

    def fail(message: str) -> dict[str, Any]:
        from .i18n import error_code  # the page shows error.<code> in its language

        return {"ok": False, "error": message, "code": error_code(400, message)}

    def out_of_scope(p, named: dict[str, int | None]) -> str | None:
        """``unknown <kind> <id>`` for the first id a community-bound ``p`` may not act on, else None."""
        if p is None or p.community_id is None:
            return None
        with services.db.read() as s:
            for name, value in named.items():
                if value is not None and not record_in_scope(s, p, name, value):
                    return f"unknown {name[:-3]} {value}"
        return None

    @socketio.on("join_worker")
    def _join_worker(data=None):  # noqa: ANN001
        wid = _int(data, "worker_id")
        if wid is None:
            return fail("worker_id must be an integer")
        p = _principal(services)
        if not may_act_for_worker(p, wid):
            return fail("not allowed to act for this worker")
        if out_of_scope(p, {"worker_id": wid}):  # a community-bound admin answers only its community's workers
            return fail("not allowed to act for this worker")
        with services.db.read() as s:
            if s.get(Worker, wid) is None:
                return fail(f"unknown worker {wid}")
        join_room(worker_room(wid))
        return {"ok": True, "room": worker_room(wid)}

    @socketio.on("leave_worker")
    def _leave_worker(data=None):  # noqa: ANN001
        wid = _int(data, "worker_id")
        if wid is not None:
            leave_room(worker_room(wid))
        return {"ok": True}

    @socketio.on("call_invite")
    def _invite(data=None):  # noqa: ANN001
        p = _principal(services)
        if p is None or p.role not in OPERATOR_ROLES:
            return fail("only a dispatcher may start a video call")
        wid = _int(data, "worker_id")
        if wid is None:
            return fail("worker_id must be an integer")
        # jurisdiction: a community's operator calls only its own workers, about its own cases and alerts (the
        # call's end is written into the case's timeline); another community's is answered as unknown
        refused = out_of_scope(p, {"worker_id": wid, "case_id": _int(data, "case_id"),
                                   "alert_id": _int(data, "alert_id")})
        if refused:
            return fail(refused)
        try:
            with services.db.write() as s:
                c = calls.start_call(s, operator=p.name, worker_id=wid, caller_sid=request.sid,
                                     case_id=_int(data, "case_id"), alert_id=_int(data, "alert_id"))
                w = s.get(Worker, wid)
                public = calls.call_public(c, w.name)
        except calls.CallError as exc:
            return fail(str(exc))
        socketio.emit("call", {"type": "ring", "call": public, "ice_servers": calls.ice_servers(services.settings)},
                      to=worker_room(wid))
        return {"ok": True, "call": public, "ice_servers": calls.ice_servers(services.settings)}

    def _party(s, data) -> tuple[Any, str]:
        """The live call named in ``data`` and which side this socket is on (operator | worker)."""
        c = calls.live_call(s, _int(data, "call_id"))
        if request.sid == c.caller_sid:
            return c, "operator"
        if request.sid == c.callee_sid or (c.state == "ringing" and worker_room(c.worker_id) in rooms()):
            return c, "worker"
        raise calls.CallError("this connection is not part of the call")

    @socketio.on("call_answer")
    def _answer(data=None):  # noqa: ANN001
        try:
            with services.db.write() as s:
                c, side = _party(s, data)
                if side != "worker":
                    raise calls.CallError("only the worker answers")
                calls.answer_call(s, c, callee_sid=request.sid)
                caller, wid, cid = c.caller_sid, c.worker_id, c.id
        except calls.CallError as exc:
            return fail(str(exc))
        socketio.emit("call", {"type": "answered", "call_id": cid}, to=caller)
        socketio.emit("call", {"type": "taken", "call_id": cid}, to=worker_room(wid), skip_sid=request.sid)
        return {"ok": True, "call_id": cid, "ice_servers": calls.ice_servers(services.settings)}

    @socketio.on("call_decline")
    def _decline(data=None):  # noqa: ANN001
        return _end(data, outcome="declined")

    @socketio.on("call_hangup")
    def _hangup(data=None):  # noqa: ANN001
        missed = isinstance(data, dict) and data.get("reason") == "missed"
        return _end(data, outcome="missed" if missed else None)

    def _end(data, outcome: str | None) -> dict[str, Any]:
        try:
            with services.db.write() as s:
                c, side = _party(s, data)
                was_ringing = c.state == "ringing"
                if outcome == "declined" and (side != "worker" or not was_ringing):
                    raise calls.CallError("only a ringing call can be declined, by the worker")
                if outcome == "missed" and (side != "operator" or not was_ringing):
                    raise calls.CallError("only the caller gives up on a ringing call")
                calls.end_call(s, c, by=side, outcome=outcome)
                public = calls.call_public(c)
                caller, callee, wid = c.caller_sid, c.callee_sid, c.worker_id
        except calls.CallError as exc:
            return fail(str(exc))
        msg = {"type": "declined" if public["state"] == "declined" else "hangup", "call_id": public["id"],
               "state": public["state"], "by": side}
        if side == "worker":
            socketio.emit("call", msg, to=caller)
        elif callee:
            socketio.emit("call", msg, to=callee)
        if was_ringing:  # stop the ringing on every page of that worker
            socketio.emit("call", msg, to=worker_room(wid), skip_sid=request.sid)
        return {"ok": True, "call": public}

    @socketio.on("call_signal")
    def _signal(data=None):  # noqa: ANN001
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in SIGNAL_KINDS:
            return fail(f"kind must be one of {', '.join(SIGNAL_KINDS)}")
        try:
            with services.db.read() as s:
                c, side = _party(s, data)
                other = c.callee_sid if side == "operator" else c.caller_sid
                cid = c.id
        except calls.CallError as exc:
            return fail(str(exc))
        if not other:
            return fail("the other side has not answered yet")
        socketio.emit("call", {"type": "signal", "call_id": cid, "kind": kind, "data": data.get("data")}, to=other)
        return {"ok": True}
