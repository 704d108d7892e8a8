"""Socket.IO: rooms, and the bus subscriber that pushes committed events to screens.

Every message is a batch ``{"events": [...]}`` of events in seq order; each event
carries its seq. A screen keeps its last seq; on a gap or a reconnect it asks
``GET /api/v1/events?after=<seq>`` for what it missed.

Who may connect, how many, and for how long is checked at the handshake and rechecked every few seconds
(live_guard.py). Jurisdiction: a socket joins the rooms of its principal (principal.py) — street-wide
callers "all", a community's callers "community:<id>", anonymous callers none — but a resident socket
(resident_live.py) joins one grid's "notices:grid:<id>" room and no other. A
community room gets its community's events and the street-wide ones (community_id
None); its batches carry ``prev``, the highest seq before the batch in that scope
(read from the event log after commit, so it holds across processes), and the client
sees a gap only when ``prev`` is past its last seq: other communities' seqs are no gap.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room
from sqlalchemy import func, or_, select

from .errors import ApiError
from .live_guard import ADMITTED, HandshakeGate, credential_of, resident_credential
from .models import Event
from .principal import resolve_principal
from .resident_live import TICKET_PARAM, notices_room, ticket_grid

log = logging.getLogger(__name__)

ALL_ROOM = "all"  # street-wide screens
WORKER_EVENT_TYPES = frozenset({"case", "alert", "worker"})  # what a worker's phone may hear about itself


def community_room(community_id: int) -> str:
    return f"community:{community_id}"


def rooms_for(message: dict[str, Any]) -> list[str]:
    """Where one event goes: street-wide screens always; community screens when it is theirs."""
    comm = message.get("community_id")
    return [ALL_ROOM] if comm is None else [ALL_ROOM, community_room(comm)]


def worker_room(worker_id: int) -> str:
    """A grid worker's phones: its own events (``worker_events``) and its video calls."""
    return f"worker:{worker_id}"


def rooms_for_principal(p) -> list[str]:  # noqa: ANN001
    """The rooms a socket of principal ``p`` joins (none when anonymous). A worker's phone joins only its own
    room: a leaked phone key shows no street, and an event costs one send per phone it concerns, not 490."""
    if p is None:
        return []
    if p.scope == "worker":
        return [worker_room(p.worker_id)] if p.worker_id is not None else []
    return [ALL_ROOM] if p.community_id is None else [community_room(p.community_id)]


def worker_events(session, messages: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:  # noqa: ANN001
    """Per worker: the messages about it — its cases (reported or assigned, one query for the batch), its alerts
    and its duty state. Position frames are left out: a phone knows where it is."""
    from .services.worker_view import own_case_workers

    case_ids = {m["payload"].get("case", {}).get("id") for m in messages if m["type"] == "case"}
    case_ids.discard(None)
    owners = own_case_workers(session, case_ids) if case_ids else {}
    out: dict[int, list[dict[str, Any]]] = {}
    for m in messages:
        payload, kind = m["payload"], m["type"]
        if kind == "case":
            targets = owners.get(payload.get("case", {}).get("id"), ())
        elif kind == "alert":
            targets = (payload.get("alert", {}).get("worker_id"),)
        elif kind == "worker":
            targets = (payload.get("worker", {}).get("id"),)
        else:
            continue
        for w in targets:
            if w is not None:
                out.setdefault(w, []).append(m)
    return out


def scope_prev(session, community_id: int, before: int) -> int:
    """The highest seq below ``before`` among events a community's screen receives."""
    return session.scalar(select(func.max(Event.seq)).where(
        Event.seq < before, or_(Event.community_id == community_id, Event.community_id.is_(None)))) or 0


def community_batches(messages: list[dict[str, Any]], communities) -> dict[int, list[dict[str, Any]]]:
    """Per community: its own events and the street-wide ones, in seq order."""
    out: dict[int, list[dict[str, Any]]] = {}
    wide = any(m.get("community_id") is None for m in messages)
    targets = set(communities) if wide else set()
    targets |= {m["community_id"] for m in messages if m.get("community_id") is not None}
    for c in targets:
        batch = [m for m in messages if m.get("community_id") in (None, c)]
        if batch:
            out[c] = batch
    return out


def register_socketio(socketio: SocketIO, services, app=None) -> None:  # noqa: ANN001
    """Wire the handshake gate, connect handlers and the bus → socket bridge."""
    if app is not None:
        app.wsgi_app = HandshakeGate(app.wsgi_app, app, services)

    @socketio.on("connect")
    def _connect(auth=None):  # noqa: ANN001
        admitted = request.environ.get(ADMITTED)  # what the handshake gate resolved (absent: a test client)
        if admitted is None and TICKET_PARAM in request.args:  # a test client's resident socket
            grid = ticket_grid(app.secret_key if app is not None else "", request.args.get(TICKET_PARAM))
            if grid is None:
                return False
            admitted = (None, resident_credential(request.remote_addr or "?", grid))
        if admitted is not None:
            p, cred = admitted
        else:
            try:
                p = resolve_principal(services)
            except ApiError:
                p = None
            if p is None or p.must_change_password:  # the gate refuses these at the handshake
                return False
            cred = credential_of(services, p, request)
        services.socket_guard.add(request.sid, request.remote_addr or "?", cred)
        if cred.kind == "resident":  # the residents' page: its grid's notices room only (resident_live.py)
            join_room(notices_room(cred.state[0]))
            return None
        for room in rooms_for_principal(p):
            join_room(room)
        log.debug("socket %s connected as %s", request.sid, p.role)

    @socketio.on("disconnect")
    def _disconnect(reason=None):  # noqa: ANN001
        services.socket_guard.remove(request.sid)

    def push(messages: list[dict[str, Any]]) -> None:
        socketio.emit("events", {"events": messages}, to=ALL_ROOM)
        services.locator  # noqa: B018 — loads the grid → community map on first use
        known = {c for c in services.frames.grid_community.values() if c is not None}
        # a community's batch needs its own `prev` (one query each): only for rooms a screen is in. With a message
        # queue, screens may be on other processes (get_participants sees this one's), so every community gets it
        def listened(c: int) -> bool:
            return services.settings.redis_url is not None or \
                next(socketio.server.manager.get_participants("/", community_room(c)), None) is not None

        per_comm = {c: b for c, b in community_batches(messages, known).items() if listened(c)}
        about_workers = any(m["type"] in WORKER_EVENT_TYPES for m in messages)
        if not per_comm and not about_workers:
            return
        with services.db.read() as s:
            prevs = {c: scope_prev(s, c, batch[0]["seq"]) for c, batch in per_comm.items()}
            per_worker = worker_events(s, messages) if about_workers else {}
        for c, batch in sorted(per_comm.items()):
            socketio.emit("events", {"events": batch, "prev": prevs[c]}, to=community_room(c))
        # a phone's feed has no gap test (`scope`): it is a few events a day that make the page reload its tasks
        # over HTTP, and a reconnect fetches what it missed (/api/v1/events cut to the worker)
        for w, batch in per_worker.items():
            socketio.emit("events", {"events": batch, "scope": "worker"}, to=worker_room(w))

    services.bus.subscribe(push)
