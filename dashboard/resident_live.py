"""The residents' live channel: an anonymous socket that hears one grid's notices and nothing else.

The live channel refuses anonymous sockets at the handshake (live_guard.py). The one exception is narrow: the
residents' page of a grid receives, with that grid's notices, a *resident ticket* — the grid id signed with the
app's secret key, good for ``TICKET_MAX_AGE_S`` to open a socket. A handshake that presents one
(``?resident=<ticket>``) is admitted as a resident socket: it joins the room ``notices:grid:<id>`` only, never a
street, community or worker room, and whoever sent it (a signed-in user, the demo operator) is not asked — a
ticket only narrows. The per-address and process caps still apply; a resident's credential is its address (one
visitor cannot open more than ``GC_SOCKET_PER_KEY`` sockets). The server pushes ``notice`` messages to the grid
rooms a notice reaches, after its commit. A page whose socket drops asks for a fresh ticket before reconnecting.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

TICKET_PARAM = "resident"
TICKET_MAX_AGE_S = 600
SALT = "gridcommand.resident-live"


def notices_room(grid_id: int) -> str:
    return f"notices:grid:{grid_id}"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make_ticket(secret_key: str, grid_id: int) -> str:
    """A signed, short-lived ticket that opens a resident socket for ``grid_id``."""
    return _serializer(secret_key).dumps({"g": int(grid_id)})


def ticket_grid(secret_key: str, ticket: str | None, max_age_s: int = TICKET_MAX_AGE_S) -> int | None:
    """The grid a valid, unexpired ticket names, else None."""
    if not ticket or len(ticket) > 200:
        return None
    try:
        data = _serializer(secret_key).loads(ticket, max_age=max_age_s)
    except BadSignature:  # SignatureExpired is one
        return None
    g = data.get("g") if isinstance(data, dict) else None
    return g if isinstance(g, int) and not isinstance(g, bool) and g > 0 else None
