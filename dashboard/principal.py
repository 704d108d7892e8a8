"""Who is calling: the ``Principal`` behind a request, and what it may see.

The core's one answer to "who is asking", used alike by the HTTP edge (``dashboard/api/auth.py``'s
``@require``), the live channel (``realtime.py``, ``realtime_calls.py``, ``live_guard.py``) and the pages
(``layouts/access.py``). The caller is resolved once per request into ``g.principal``:

- ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` → the key's role;
- a signed-in web user (Flask-Login session) → the user's role;
- the wall's display cookie (set from ``?display_token=``, see api/security.py) → display;
- in demo mode, a request from this machine with none of these → the clearly marked
  demo operator (role dispatcher, whole street); a state-changing request gets it only with
  the CSRF token of a page this server served. Nothing else is ever implied.

A signed-in session carries its user's session generation (``gc_gen``); logout, a password
change or reset, a role, jurisdiction or worker change and disabling move the user's generation
on, which ends every session started before (``session_valid`` asks the same question for the
live channel).

A principal is bound to the whole street (``community_id`` None) or one community;
``scope_community`` gives the community a query must be limited to, ``in_scope`` and
``record_in_scope`` whether a record is the caller's to see or act on.
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import g, request
from flask_login import current_user
from sqlalchemy import select

from .errors import ApiError
from .models import Role, User
from .services.apikeys import find_api_key, last_use_due, note_use
from .services.users import session_current

LOCAL_ADDRS = {"127.0.0.1", "::1", "localhost"}
DEMO_NAME = "演示值班员 (demo)"
DISPLAY_COOKIE = "gc_display"
UNMASK_ROLES = (Role.ADMIN, Role.DISPATCHER)
CSRF_COOKIE, CSRF_HEADER = "gc_csrf", "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_GEN = "gc_gen"  # the user's session generation when this session began


def csrf_token_ok() -> bool:
    """Does this request send the ``X-CSRF-Token`` header equal to its ``gc_csrf`` cookie?"""
    token, cookie = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
    return bool(token) and bool(cookie) and hmac.compare_digest(token, cookie)


def demo_local(services) -> bool:
    """Demo mode, not production, and a request from this machine."""
    st = services.settings
    return st.demo and not st.production and request.remote_addr in LOCAL_ADDRS


def safe_next_path(value: object) -> str:
    """Where a sign-in may send the browser next: a path on this server, else "/". Browsers read ``/\\host``,
    ``\\\\host`` and ``/<tab>/host`` as ``//host`` (another site), so backslashes and control characters are refused,
    also percent-encoded."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return "/"
    probe = value
    for _ in range(3):  # /%5chost, /%255chost …
        probe = unquote(probe)
    if probe.startswith("//") or "\\" in probe or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in probe):
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    community_id: int | None = None   # None = the whole street
    worker_id: int | None = None
    user_id: int | None = None
    via: str = "session"               # session | api_key | display | demo
    key_id: int | None = None          # the API key's id (api_key, display): names repeat, ids do not
    must_change_password: bool = False

    @property
    def is_demo(self) -> bool:
        return self.via == "demo"

    @property
    def may_unmask(self) -> bool:
        return self.role in UNMASK_ROLES

    @property
    def scope(self) -> str:
        """What this caller's reads cover: "worker" (its own tasks and reports, its own position — whatever its
        community), "community" (one community and the street-wide records) or "street" (everything)."""
        if self.role == Role.WORKER:
            return "worker"
        return "street" if self.community_id is None else "community"


def scope_community(p: Principal | None, requested: int | None = None) -> int | None:
    """The community a query is limited to: the principal's own, else what a street-wide caller asked for."""
    if p is not None and p.community_id is not None:
        return p.community_id
    return requested


def in_scope(p: Principal | None, community_id: int | None) -> bool:
    """May ``p`` see a record of ``community_id`` (None = street-wide record)?"""
    return p is None or p.community_id is None or community_id is None or community_id == p.community_id


class SessionUser:
    """The object Flask-Login keeps for a signed-in user."""

    def __init__(self, user: User) -> None:
        self.id, self.username, self.role = user.id, user.username, user.role
        self.display_name, self.community_id, self.worker_id = user.display_name, user.community_id, user.worker_id
        self.is_authenticated, self.is_active, self.is_anonymous = True, user.active, False
        self.must_change_password = bool(user.must_change_password)

    def get_id(self) -> str:
        return str(self.id)


def session_valid(services, flask_session: Mapping) -> bool:
    """Is the signed-in session ``flask_session`` (a Flask session or its copy) still valid: its user exists, is
    active, and has not moved its session generation on since it began? For the live channel's periodic check."""
    user_id, gen = str(flask_session.get("_user_id") or ""), flask_session.get(SESSION_GEN)
    if not user_id.isdigit():
        return False
    with services.db.read() as s:
        return session_current(s.get(User, int(user_id)), gen)


def known_key(services, key: str | None):
    """The active API key ``key`` (detached), or None. Read, not written: its last use is noted only when a
    minute old, so a phone's requests do not each take a write turn."""
    with services.db.read() as s:
        row = find_api_key(s, key)
    if row is not None and last_use_due(row):
        with services.db.write() as s:
            note_use(s, row.id)
    return row


def resolve_principal(services) -> Principal | None:
    """The caller of this request, or None."""
    if "principal" in g:
        return g.principal
    p = None
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("X-API-Key")
    if key:
        row = known_key(services, key)
        if row is None:
            raise ApiError(401, "invalid or revoked API key", "Authorization")
        p = Principal(name=row.name, role=row.role, community_id=row.community_id, worker_id=row.worker_id,
                      via="api_key", key_id=row.id)
    elif current_user and current_user.is_authenticated:
        p = Principal(name=current_user.display_name or current_user.username, role=current_user.role,
                      community_id=current_user.community_id, worker_id=current_user.worker_id,
                      user_id=current_user.id, must_change_password=current_user.must_change_password)
    elif request.cookies.get(DISPLAY_COOKIE):
        row = known_key(services, request.cookies[DISPLAY_COOKIE])
        if row is not None and row.role == Role.DISPLAY:
            p = Principal(name=row.name, role=Role.DISPLAY, community_id=row.community_id, via="display",
                          key_id=row.id)
    if p is None and demo_local(services):
        # a page on an attacker's site cannot read our token cookie: it cannot act as the demo operator
        if request.method in SAFE_METHODS or request.path.startswith("/socket.io") or csrf_token_ok():
            p = Principal(name=DEMO_NAME, role=Role.DISPATCHER, via="demo")
        else:
            g.gc_demo_needs_csrf = True
    g.principal = p
    return p


def _path_object_community(session, name: str, value: int) -> tuple[bool, int | None]:
    """(exists, community id) of the record a URL parameter names; (False, None) for unknown names."""
    from .models import Alert, Case, Grid, Worker

    if name == "case_id":
        row = session.execute(select(Case.community_id).where(Case.id == value)).first()
    elif name == "alert_id":
        row = session.execute(select(Alert.community_id).where(Alert.id == value)).first()
    elif name == "grid_id":
        row = session.execute(select(Grid.community_id).where(Grid.id == value)).first()
    elif name == "worker_id":
        row = session.execute(select(Grid.community_id).select_from(Worker).outerjoin(
            Grid, Grid.id == Worker.grid_id).where(Worker.id == value)).first()
    else:
        return False, None
    return (row is not None), (row[0] if row is not None else None)


def record_in_scope(session, p: Principal | None, name: str, value: int) -> bool:
    """Does ``value`` name an existing case, alert, grid or worker (``name`` as in a URL: ``case_id`` …) that ``p``
    may act on? Writes that take such an id in their body answer False exactly as for an unknown id, so a
    community-bound caller learns nothing of another community's records and changes none of them."""
    exists, comm = _path_object_community(session, name, value)
    return exists and in_scope(p, comm)
