"""The HTTP edge of who-is-calling: ``@require(...)``, sign-in and sign-out, and the session cookie.

Who the caller is (``Principal``, ``resolve_principal``, the scope helpers) is the core's answer, in
``dashboard/principal.py``; this module holds what only the HTTP edge does with it. Every endpoint declares
the roles it admits with ``@require(...)``: 401 when anonymous, 403 for a wrong role or a one-time password
not yet changed; a community-bound caller naming another community's record gets a 404, and its
``community_id`` query parameters are pinned to its own community.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request, session
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash

from ..models import Role, User
from ..principal import (
    CSRF_HEADER,
    SESSION_GEN,
    Principal,
    SessionUser,
    _path_object_community,
    in_scope,
    resolve_principal,
)
from ..services.users import end_sessions, session_current
from .deps import services as current_services
from .errors import ApiError

PASSWORD_CHANGE_PATHS = {"/auth/password", "/auth/logout", "/auth/me"}


def init_auth(app, services) -> LoginManager:
    manager = LoginManager()
    manager.init_app(app)

    @manager.user_loader
    def _load(user_id: str):
        with services.db.read() as s:
            u = s.get(User, int(user_id)) if user_id.isdigit() else None
            if u is None or not session_current(u, session.get(SESSION_GEN)):
                session.clear()  # an ended session (logout, password or role change, disabled): the cookie is spent
                return None
            return SessionUser(u)

    return manager


def require(*roles: str, services=None) -> Callable:
    """Decorator: admit only callers with one of ``roles`` (401 if anonymous, 403 if the role is wrong). A
    blueprint's module-level view leaves ``services`` out: the serving app's are used (``deps.services()``)."""

    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            svc = services if services is not None else current_services()
            p = resolve_principal(svc)
            if p is None and g.get("gc_demo_needs_csrf"):
                raise ApiError(403, "the demo operator's changes need the X-CSRF-Token header of a page this "
                                    "server served", CSRF_HEADER)
            if p is None:
                raise ApiError(401, "sign in or send an API key")
            if p.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
                raise ApiError(403, "change your one-time password first (POST /auth/password)")
            if roles and p.role not in roles and p.role != Role.ADMIN:
                raise ApiError(403, f"role {p.role} may not do this; needs {', '.join(roles)}")
            if p.community_id is not None:
                guard_jurisdiction(svc, p, kwargs)
                pin_community_args(p.community_id)
            g.gc_handler = True  # from here on the writes are the handler's own (audit_edge carries its row)
            return fn(*args, **kwargs)

        return wrapper

    return deco


def pin_community_args(community_id: int) -> None:
    """A community-bound caller's ``community_id`` / ``community`` query parameters: absent → its own
    community (endpoints that filter by them are scoped); naming another community → 403."""
    from werkzeug.datastructures import ImmutableMultiDict

    args = request.args.copy()
    for k in ("community_id", "community"):
        for asked in args.getlist(k):  # every value: an endpoint may read the first or the last
            if asked == str(community_id) or not asked:
                continue
            if asked.isascii() and asked.isdigit() and asked[0] != "0":
                raise ApiError(403, f"community {asked} is outside your jurisdiction", k)
            if _reads_as_number(asked):  # "+2", " 2", "02", "2.0": int()/float() would read another community
                raise ApiError(400, f"{k} must be a community id in plain digits, got {asked[:40]!r}", k)
        if not args.get(k):
            args[k] = str(community_id)
    request.args = ImmutableMultiDict(args)


def _reads_as_number(raw: str) -> bool:
    """Would ``int()`` or ``float()`` make a number of ``raw``? (A community code or "street" would not.)"""
    try:
        float(raw)
    except ValueError:
        return False
    return True


def guard_jurisdiction(services, p: Principal, kwargs: dict) -> None:
    """A community-bound caller naming another community's case, alert, grid or worker gets a 404."""
    named = {k: v for k, v in kwargs.items() if k in ("case_id", "alert_id", "grid_id", "worker_id")
             and isinstance(v, int)}
    if not named:
        return
    with services.db.read() as s:
        for k, v in named.items():
            exists, comm = _path_object_community(s, k, v)
            if exists and not in_scope(p, comm):
                raise ApiError(404, f"no such {k[:-3]} {v}")


def sign_in(services, username: str, password: str) -> User | None:
    """Check a password and start a session; None on a wrong name or password. Both are audited."""
    from ..services import audit

    with services.db.write() as s:
        u = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        ok = u is not None and bool(u.password_hash) and check_password_hash(u.password_hash, password)
        who = Principal(name=(u.display_name or u.username) if ok else username[:64], role=u.role if ok else "",
                        user_id=u.id if ok else None)
        audit.record(s, who, "sign_in" if ok else "sign_in_failed", f"user:{username[:60]}",
                     {"must_change_password": bool(u.must_change_password)} if ok else None, request.remote_addr)
        if not ok:
            return None
        start_session(u)
        s.expunge(u)
        return u


def start_session(user: User) -> None:
    """A fresh session (no fixation) for ``user``, stamped with the user's current session generation."""
    session.clear()
    login_user(SessionUser(user))
    session[SESSION_GEN] = user.session_gen


def sign_out(services) -> None:
    """End this session and every other session of the same user (a saved copy of the cookie is spent too)."""
    user_id = current_user.id if current_user and current_user.is_authenticated else None
    if user_id is not None:
        with services.db.write() as s:
            u = s.get(User, user_id)
            if u is not None:
                end_sessions(u)
    logout_user()
    session.clear()
