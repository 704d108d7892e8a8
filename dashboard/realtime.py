"""Socket.IO: rooms, and the bus subscriber that pushes committed events to screens.

Every message is a batch ``{"events": [...]}`` of events in seq order; each event
carries its seq. A screen keeps its last seq; on a gap or a reconnect it asks
``GET /api/v1/events?after=<seq>`` for what it missed.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

log = logging.getLogger(__name__)

ALL_ROOM = "all"  # street-wide screens


def community_room(community_id: int) -> str:
    return f"community:{community_id}"


def rooms_for(message: dict[str, Any]) -> list[str]:
    """Where one event goes: street-wide screens always; community screens when it is theirs."""
    comm = message.get("community_id")
    return [ALL_ROOM] if comm is None else [ALL_ROOM, community_room(comm)]


def register_socketio(socketio: SocketIO, services) -> None:
    """Wire connect handlers and the bus → socket bridge."""

    @socketio.on("connect")
    def _connect(auth=None):  # noqa: ANN001
        join_room(ALL_ROOM)
        log.debug("socket %s connected", request.sid)

    def push(messages: list[dict[str, Any]]) -> None:
        by_room: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            for room in rooms_for(m):
                by_room.setdefault(room, []).append(m)
        for room, batch in by_room.items():
            socketio.emit("events", {"events": batch}, to=room)

    services.bus.subscribe(push)
