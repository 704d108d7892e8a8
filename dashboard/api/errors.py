"""One shape for API errors: ``{"error": {"status", "field", "message"}}``, and the input edge every request
passes: integers in a URL path, in a JSON body and in the shared query helpers are checked here, once."""
from __future__ import annotations

import re
from typing import Any

from flask import jsonify, request

from ..errors import ApiError  # the core's error; this module is where the HTTP edge answers it

# the largest integer a database column holds (SQLite and PostgreSQL BIGINT); a larger one is no id of ours,
# and handed to the database it is an OverflowError, not an answer
ID_MAX = 2**63 - 1
_INT = re.compile(r"-?[0-9]+")   # ASCII digits only: int() also takes "+2", " 2", "2_0" and "٢"


def error_response(status: int, message: str, field: str | None = None):
    from ..i18n import error_code  # a stable code (required, invalid, forbidden …) a page renders in its language

    body = {"error": {"status": status, "code": error_code(status, message), "message": message}}
    if field:
        body["error"]["field"] = field
    return jsonify(body), status


def too_many(limits, name: str, key: str, message: str, field: str | None = None):
    """The 429 answer of ``limits`` (a RateLimits) for ``key`` under ``name``: the error shape with its code, and
    ``Retry-After`` in whole seconds."""
    r, _ = error_response(429, message, field)
    r.status_code = 429
    r.headers["Retry-After"] = str(limits.retry_after(name, key))
    return r


def strict_int(raw: str, name: str, *, lo: int = -ID_MAX, hi: int = ID_MAX) -> int:
    """A decimal integer written plainly (ASCII digits, an optional minus) within [lo, hi]; else a 400."""
    if not _INT.fullmatch(raw):
        raise ApiError(400, f"{name} must be an integer, got {raw[:40]!r}", name)
    v = int(raw)
    if v < lo or v > hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}", name)
    return v


def int_arg(args, name: str, default: int, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer query parameter; a bad or out-of-range value is a 400 naming the parameter."""
    raw = args.get(name)
    if raw in (None, ""):
        return default
    return strict_int(raw, name, lo=-ID_MAX if lo is None else lo, hi=ID_MAX if hi is None else hi)


def id_arg(args, name: str) -> int | None:
    """An optional record id in the query (1 … ID_MAX)."""
    raw = args.get(name)
    return None if raw in (None, "") else strict_int(raw, name, lo=1, hi=ID_MAX)


def page_arg(args, size: int, name: str = "page") -> int:
    """A 1-based page number whose offset ((page - 1) × size) still fits the database."""
    return int_arg(args, name, 1, lo=1, hi=ID_MAX // max(size, 1))


def _out_of_range(value: Any, path: str) -> str | None:
    """The dotted path of the first integer in a JSON value that no database column holds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return path if not -ID_MAX <= value <= ID_MAX else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        if (hit := _out_of_range(v, f"{path}.{k}" if path else str(k))) is not None:
            return hit
    return None


def check_inputs() -> None:
    """Integers from the outside, before any view runs: path ids 1 … ID_MAX, and no JSON integer past ID_MAX.

    One place, so no route can hand SQLite a number it cannot store (the fuzzing run found four that did)."""
    for name, v in (request.view_args or {}).items():
        if isinstance(v, int) and not 0 <= v <= ID_MAX:
            raise ApiError(400, f"{name} must be an id between 1 and {ID_MAX}", name)
    # Dash's callback payloads (figures, stores) are large and never reach SQL as they are: not walked
    if request.is_json and not request.path.startswith("/_dash-"):
        try:  # a body nested thousands deep exhausts the parser's (or this walk's) recursion: refuse it whole
            body = request.get_json(silent=True)
            where = _out_of_range(body, "")
        except RecursionError:
            raise ApiError(400, "body: JSON nested too deeply", "body") from None
        if where is not None:
            raise ApiError(422, f"{where or 'body'}: integer out of range (±{ID_MAX})", where or "body")


def register(app, services) -> None:
    app.before_request(check_inputs)  # after security's hooks (MODULES order): a refused caller learns nothing
