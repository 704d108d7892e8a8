"""Who is looking at a page: the caller of the request a layout or a server callback runs in.

Layouts and Dash callbacks run inside a Flask request (the page router's or the callback's own), so
they are scoped by the same principal as the APIs and the live channel (dashboard/principal.py).
"""
from __future__ import annotations

from flask import has_request_context

from dashboard.errors import ApiError
from dashboard.principal import Principal, resolve_principal, scope_community


def caller(services) -> Principal | None:
    """The signed-in user, key, display or demo operator behind this request; None if anonymous."""
    if not has_request_context():
        return None
    try:
        return resolve_principal(services)
    except ApiError:  # a revoked key
        return None


def allowed(services, *roles: str) -> Principal | None:
    """The caller if it has one of ``roles`` (admins always), else None."""
    p = caller(services)
    if p is None or p.must_change_password or (roles and p.role not in roles and p.role != "admin"):
        return None
    return p


def own_community(services, requested: int | None = None) -> int | None:
    """The community this caller's view is limited to (its own), else what it asked for."""
    return scope_community(caller(services), requested)
