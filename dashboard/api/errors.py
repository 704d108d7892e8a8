"""One shape for API errors: ``{"error": {"status", "field", "message"}}``."""
from __future__ import annotations

from flask import jsonify


class ApiError(Exception):
    """Raise from a view to answer ``status`` with a message that names the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error_response(status: int, message: str, field: str | None = None):
    body = {"error": {"status": status, "message": message}}
    if field:
        body["error"]["field"] = field
    return jsonify(body), status


def int_arg(args, name: str, default: int, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer query parameter; a bad value is a 400 naming the parameter."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}", name)
    if lo is not None and v < lo or hi is not None and v > hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}", name)
    return v
