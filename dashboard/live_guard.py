"""The live channel guarded like HTTP: who may open a socket, how many, and for how long.

- A new Engine.IO connection (the handshake: a ``/socket.io/`` request without ``sid``) is checked before
  python-engineio sees it: the caller must resolve to a principal exactly as an HTTP request does (API key,
  signed-in user, display cookie, demo operator on this machine) — anonymous → 401, a user still on a
  one-time password → 403 — and the process-wide, per-address and per-credential caps must have room
  (503 / 429 with ``Retry-After``). Refusing at the handshake means an idle anonymous socket never holds
  a thread.
- ``Origin`` is checked by python-engineio against the request's own origin (``cors_allowed_origins=None``);
  a foreign page cannot open the channel with the visitor's cookie.
- Every ``GC_SOCKET_RECHECK_S`` seconds each process re-reads, in two bulk queries, the credentials of its own
  sockets: a revoked API or display key, a disabled user, a changed role or jurisdiction, an ended session
  (its generation moved on: logout, password change) or a reset password closes the socket.
- The one anonymous socket: a resident ticket from a grid's residents' page (``?resident=``, resident_live.py)
  opens a socket that joins that grid's notices room and nothing else; the address caps apply to it, and resident
  sockets together hold at most ``RESIDENT_SHARE`` of the process cap, so strangers fetching tickets from a few
  addresses cannot take every slot from the walls and consoles (503 for the next resident only).
- Long HTTP responses (camera MJPEG) take a slot from the same counters (``take_stream``), so streams count too.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import parse_qs

from sqlalchemy import select

from .errors import ApiError
from .models import ApiKey, User
from .principal import DISPLAY_COOKIE, resolve_principal
from .ratelimit import client_key
from .resident_live import TICKET_PARAM, ticket_grid
from .services.apikeys import hash_key

log = logging.getLogger(__name__)
RESIDENT_SHARE = 0.5  # of GC_SOCKET_MAX: anonymous resident sockets never take the staff's half

ADMITTED = "gridcommand.live_admitted"  # environ key: (principal, credential) the handshake gate resolved
USER_STATE = ("active", "role", "community_id", "worker_id", "must_change_password", "session_gen")


@dataclass(frozen=True)
class Credential:
    """What a socket was opened with: ``kind`` is key | user | demo; ``ident`` the key's hash or the user id."""

    kind: str
    ident: Any = None
    state: tuple = ()

    @property
    def cap_key(self) -> str:
        return f"{self.kind}:{self.ident}"


def resident_credential(addr: str, grid_id: int) -> Credential:
    """A resident socket's credential (resident_live.py): counted per address, the grid in its state."""
    return Credential("resident", client_key(addr), (grid_id,))


def _user_state(user: User) -> tuple:
    return tuple(getattr(user, c, None) for c in USER_STATE)


def presented_key(request) -> str | None:  # noqa: ANN001
    """The API or display key this request carries (header first, then the display cookie)."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("X-API-Key")
    return key or request.cookies.get(DISPLAY_COOKIE) or None


def credential_of(services, principal, request) -> Credential:  # noqa: ANN001
    """The credential behind ``principal`` for this request (resolve_principal ran first)."""
    if principal.via in ("api_key", "display"):
        return Credential("key", hash_key(presented_key(request) or ""))
    if principal.via == "demo":
        return Credential("demo", request.remote_addr)
    with services.db.read() as s:
        u = s.get(User, principal.user_id)
        return Credential("user", principal.user_id, _user_state(u) if u is not None else ())


class SocketGuard:
    """Counts this process's live sockets and streams, and closes those whose credential no longer holds."""

    def __init__(self, services) -> None:  # noqa: ANN001
        st = services.settings
        self.services = services
        # GC_SOCKET_* (dashboard/config.py): None = off; the process cap is derived from --threads by `run.py prod`
        self.max_total, self.per_addr, self.per_key = st.socket_max, st.socket_per_addr, st.socket_per_key
        self.recheck_s = float(st.socket_recheck_s or 2)
        self.lock = threading.Lock()
        self.sockets: dict[str, tuple[str, Credential]] = {}  # sid → (address, credential)
        self.by_addr: Counter[str] = Counter()
        self.by_key: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.streams = 0
        self.refused: Counter[str] = Counter()  # why handshakes were refused (for /metrics and tests)

    # -- counting --------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.sockets) + self.streams

    def room_for(self, addr: str, cred: Credential | None) -> tuple[int, str] | None:
        """(status, reason) when a new socket from ``addr`` with ``cred`` would pass a cap, else None."""
        addr = client_key(addr)  # an IPv6 client by its /64, as every per-address limit
        with self.lock:
            if self.max_total is not None and self.total >= self.max_total:
                return 503, "the server is at its connection limit; retry shortly"
            if self.per_addr is not None and self.by_addr[addr] >= self.per_addr:
                return 429, "too many live connections from this address"
            if cred is not None and cred.kind == "resident" and self.max_total is not None and \
                    self.by_kind["resident"] >= max(1, int(self.max_total * RESIDENT_SHARE)):
                return 503, "the residents' live connections are full; retry shortly"
            # the demo operator is this machine's own screens: the address cap is its cap
            if cred is not None and cred.kind != "demo" and self.per_key is not None and \
                    self.by_key[cred.cap_key] >= self.per_key:
                return 429, "too many live connections for this key or user"
        return None

    def is_resident(self, sid: str) -> bool:
        """Is ``sid`` a resident socket (resident_live.py), which may do nothing but hear its grid's notices?"""
        with self.lock:
            entry = self.sockets.get(sid)
        return entry is not None and entry[1].kind == "resident"

    def add(self, sid: str, addr: str, cred: Credential) -> None:
        addr = client_key(addr)  # an IPv6 client by its /64, as every per-address limit
        with self.lock:
            self.sockets[sid] = (addr, cred)
            self.by_addr[addr] += 1
            self.by_key[cred.cap_key] += 1
            self.by_kind[cred.kind] += 1

    def remove(self, sid: str) -> None:
        with self.lock:
            entry = self.sockets.pop(sid, None)
            if entry is None:
                return
            addr, cred = entry
            for counter, k in ((self.by_addr, addr), (self.by_key, cred.cap_key), (self.by_kind, cred.kind)):
                counter[k] -= 1
                if counter[k] <= 0:
                    del counter[k]

    def take_stream(self, addr: str) -> bool:
        """A slot for a long response (a camera stream) from ``addr``; False when the caps leave none."""
        addr = client_key(addr)  # an IPv6 client by its /64, as every per-address limit
        with self.lock:
            if (self.max_total is not None and self.total >= self.max_total) or (
                    self.per_addr is not None and self.by_addr[addr] >= self.per_addr):
                self.refused["stream"] += 1
                return False
            self.streams += 1
            self.by_addr[addr] += 1
            return True

    def release_stream(self, addr: str) -> None:
        addr = client_key(addr)  # an IPv6 client by its /64, as every per-address limit
        with self.lock:
            self.streams -= 1
            self.by_addr[addr] -= 1
            if self.by_addr[addr] <= 0:
                del self.by_addr[addr]

    # -- rechecking ------------------------------------------------------------------------------
    def stale(self) -> list[str]:
        """The sids whose credential was revoked, disabled or changed since they connected."""
        with self.lock:
            entries = list(self.sockets.items())
        hashes = {c.ident for _, (_, c) in entries if c.kind == "key"}
        users = {c.ident for _, (_, c) in entries if c.kind == "user"}
        live_keys: set[str] = set()
        states: dict[int, tuple] = {}
        with self.services.db.read() as s:
            for chunk in _chunks(sorted(hashes), 500):
                live_keys |= set(s.scalars(select(ApiKey.key_hash).where(
                    ApiKey.key_hash.in_(chunk), ApiKey.revoked_at.is_(None))))
            for chunk in _chunks(sorted(users), 500):
                states.update({u.id: _user_state(u) for u in s.scalars(select(User).where(User.id.in_(chunk)))})
        out = []
        for sid, (_, c) in entries:
            if c.kind == "key" and c.ident not in live_keys:
                out.append(sid)
            elif c.kind == "user" and states.get(c.ident) != c.state:
                out.append(sid)
        return out

    def close_stale(self) -> int:
        """Close the sockets whose credential no longer holds; how many."""
        stale = self.stale()
        for sid in stale:
            log.info("closing socket %s: its key or session no longer holds", sid)
            self.remove(sid)
            self.services.socketio.server.disconnect(sid, namespace="/")
        return len(stale)

    def recheck_loop(self, stop: threading.Event) -> None:
        """Close stale sockets every ``recheck_s`` seconds until ``stop``."""
        while not stop.wait(self.recheck_s):
            if not self.sockets:
                continue
            try:
                self.close_stale()
            except Exception:  # noqa: BLE001 — a failed pass is retried at the next
                log.exception("socket recheck failed")


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _refuse(start_response, status: int, message: str, retry: bool) -> list[bytes]:  # noqa: ANN001
    reason = {400: "BAD REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 429: "TOO MANY REQUESTS",
              503: "SERVICE UNAVAILABLE"}.get(status, "REFUSED")
    body = json.dumps({"error": {"status": status, "message": message, "field": None}}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry:
        headers.append(("Retry-After", "5"))
    start_response(f"{status} {reason}", headers)
    return [body]


class HandshakeGate:
    """WSGI middleware: checks a new live connection's identity and the caps before Engine.IO accepts it."""

    def __init__(self, wsgi_app, flask_app, services, path: str = "/socket.io") -> None:  # noqa: ANN001
        self.wsgi_app, self.flask_app, self.services, self.path = wsgi_app, flask_app, services, path

    def __call__(self, environ, start_response):  # noqa: ANN001
        if not environ.get("PATH_INFO", "").startswith(self.path) or "sid" in parse_qs(environ.get("QUERY_STRING", "")):
            return self.wsgi_app(environ, start_response)
        refusal = self.check(environ)
        if refusal is not None:
            status, message = refusal
            return _refuse(start_response, status, message, retry=status in (429, 503))
        return self.wsgi_app(environ, start_response)

    def check(self, environ) -> tuple[int, str] | None:  # noqa: ANN001
        from flask import request

        guard: SocketGuard = self.services.socket_guard
        with self.flask_app.request_context(dict(environ)):
            addr = request.remote_addr or "?"
            full = guard.room_for(addr, None)
            if full is not None:
                guard.refused[str(full[0])] += 1
                return full
            if TICKET_PARAM in request.args:  # the residents' page: one grid's notices, nothing else
                grid = ticket_grid(self.flask_app.secret_key, request.args.get(TICKET_PARAM))
                if grid is None:
                    guard.refused["401"] += 1
                    return 401, "the resident ticket is invalid or expired; reload the page"
                cred = resident_credential(addr, grid)
                full = guard.room_for(addr, cred)
                if full is not None:
                    guard.refused[str(full[0])] += 1
                else:
                    environ[ADMITTED] = (None, cred)
                return full
            try:
                p = resolve_principal(self.services)
            except ApiError as exc:
                guard.refused[str(exc.status)] += 1
                return exc.status, exc.message
            if p is None:
                guard.refused["401"] += 1
                return 401, "sign in, or send an API key or display token, to open the live channel"
            if p.must_change_password:
                guard.refused["403"] += 1
                return 403, "change your one-time password first"
            cred = credential_of(self.services, p, request)
            full = guard.room_for(addr, cred)
            if full is not None:
                guard.refused[str(full[0])] += 1
            else:  # the Socket.IO connect handler runs on this very environ: it takes these, not a second lookup
                environ[ADMITTED] = (p, cred)
            return full
