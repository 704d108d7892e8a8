"""The one error a request can end in: a status and a message that names the field.

It lives in the core because the core's edges all raise it — the HTTP views, the socket handshake
(``live_guard``), the Socket.IO handlers and the pages' principal lookup; ``dashboard/api/errors.py``
turns it into the JSON answer ``{"error": {"status", "field", "message"}}``.
"""
from __future__ import annotations


class ApiError(Exception):
    """Raise to answer ``status`` with a message that names the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
