"""Request hardening: security headers and CSP, CSRF, idle sessions, the wall's display token, rate limits.

- CSP: only this origin; Dash's own inline scripts by hash (``set_script_hashes``,
  called by the Dash layer), inline styles (Plotly, Dash), blob: workers (MapLibre).
  Enforced in production (or with GC_CSP=enforce); elsewhere sent report-only, so test
  harnesses and dev tools that evaluate strings in the page keep working.
- CSRF: a state-changing request carried by a session cookie must send the
  ``X-CSRF-Token`` header equal to the ``gc_csrf`` cookie (dashboard/assets/05-csrf.js
  adds it to every same-origin fetch); any request with a foreign ``Origin`` is refused.
  API-key requests carry no ambient credential and are exempt.
- Sessions end after ``GC_SESSION_IDLE_MIN`` minutes without a request.
- ``?display_token=<key>`` (a display-role API key) on a page sets a long-lived cookie and
  redirects to the clean URL; the kiosk stays signed in until the key is revoked.
- Rate limits (``GC_RATE_*`` = "N/seconds" or "off") on sign-in and public endpoints; sign-in and Open311
  are counted in Redis across processes when there is one (dashboard/ratelimit.py).
- The edge (``install_edge``, outermost WSGI layer, so Socket.IO too): a ``Host`` not in ``GC_ALLOWED_HOSTS``
  is a 400 before anything runs (DNS rebinding); ``X-Forwarded-For``/``-Proto`` are believed only from the
  ``GC_TRUSTED_PROXIES`` nearest hops (``ProxyFix``), so client addresses, HTTPS, HSTS and Secure cookies
  are right behind the documented nginx and cannot be forged without it.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlparse

from flask import Flask, g, has_request_context, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings
from ..models import Role
from ..ratelimit import RateLimits, client_key
from ..principal import CSRF_COOKIE, CSRF_HEADER, DISPLAY_COOKIE, SAFE_METHODS, csrf_token_ok, known_key
from .errors import too_many

log = logging.getLogger(__name__)
CSRF_EXEMPT = {"/auth/login"}  # no session yet (and a login CSRF gains nothing: rate-limited, audited)
# the hardening settings (typed, with their defaults and meanings, in dashboard/config.py)
HARDENING = ("GC_SESSION_IDLE_MIN", "GC_DISPLAY_COOKIE_DAYS", "GC_RATE_LOGIN", "GC_RATE_OPEN311", "GC_RATE_OSMAND",
             "GC_RATE_POSITIONS", "GC_RATE_WEBHOOK", "GC_RATE_SHARED", "GC_CSP", "GC_ALLOWED_HOSTS",
             "GC_TRUSTED_PROXIES", "GC_CAMERA_STREAM_MAX_S")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def conf(settings, name: str) -> str:
    """A setting's value as text, by its GC_* name (for the summary below; code reads the typed field)."""
    value = getattr(settings, Settings.env_names()[name])
    return "" if value is None else str(value)


def set_script_hashes(server: Flask, hashes) -> None:  # noqa: ANN001
    """Allow the inline scripts ``hashes()`` names (Dash's ``app.csp_hashes``; read at the first request,
    after every clientside callback is registered)."""
    server.extensions["gc_csp_hashes_fn"] = hashes


def csp(server: Flask) -> str:
    if "gc_csp" in server.extensions:
        return server.extensions["gc_csp"]
    fn = server.extensions.get("gc_csp_hashes_fn")
    hashes = " ".join(f"'{h.strip(chr(39))}'" for h in (fn() if fn else []))  # Dash's hashes come quoted
    policy = "; ".join([
        "default-src 'self'", f"script-src 'self' {hashes}".strip(), "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'", "worker-src 'self' blob:",
        "child-src 'self' blob:", "media-src 'self' blob: mediastream:", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", "frame-ancestors 'none'"])
    if fn is not None:
        server.extensions["gc_csp"] = policy
    return policy


def _limiters(settings) -> RateLimits:
    names = ("LOGIN", "OPEN311", "OSMAND", "POSITIONS", "WEBHOOK")  # POSITIONS: spent in the view (field_people)
    shared = frozenset(n.strip().upper() for n in settings.rate_shared.split(",") if n.strip())
    return RateLimits({n: getattr(settings, f"rate_{n.lower()}") for n in names}, redis_url=settings.redis_url,
                      shared=shared)


def _rate_key() -> tuple[str, str] | None:
    """(limiter, key) for a rate-limited request, else None."""
    path, method, ip = request.path, request.method, client_key(request.remote_addr)  # IPv6: its /64
    if path == "/auth/login" and method == "POST":
        return "LOGIN", ip
    if path == "/auth/password" and method == "POST":  # guessing a held session's current password: the same
        return "LOGIN", "password:" + ip                 # rate as a sign-in, its own budget
    if path.startswith("/open311/v2/requests") and method == "POST":
        return "OPEN311", ip
    # /osmand is limited per verified device and per fix where the device is known (services/group_commit.py):
    # a claimed id here would let a stranger spend a real device's budget, and an address would throttle every
    # phone behind one carrier NAT.
    if path == "/api/v1/devices/events" and method == "POST":
        # the client address, never a header the sender chooses (any credential string opened a fresh budget);
        # the device is only known after its signature is checked, inside the view
        return "WEBHOOK", ip
    return None


def _csrf_problem(services) -> str | None:
    """Why this request fails the CSRF check, or None."""
    if request.method in SAFE_METHODS or request.path.startswith("/socket.io"):
        return None
    if request.headers.get("Authorization") or request.headers.get("X-API-Key"):
        return None
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or urlparse(origin).netloc != request.host):
        return "cross-origin request refused"
    # a session always needs the token; the demo operator (no session) needs it too, asked in auth.resolve_principal
    if "_user_id" not in session or request.path in CSRF_EXEMPT:
        return None
    if not csrf_token_ok():
        return "missing or wrong X-CSRF-Token header"
    return None


def _split_host(host: str) -> tuple[str, str]:
    """(name, port) of a Host value, lower-cased; port "" when none is given. IPv6 stays in brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, ""
        name, rest = host[:end + 1], host[end + 1:]
        return name, rest[1:] if rest.startswith(":") else ""
    name, _, port = host.partition(":")
    return name, port


def allowed_hosts(settings) -> frozenset[tuple[str, str | None]] | None:
    """The Host values this server answers, as (name, port) with port None = any; None = every host ("*").

    Configured: GC_ALLOWED_HOSTS, comma-separated ``name`` (any port) or ``name:port``. Default (outside production,
    where it must be configured): this machine's loopback names on the configured port, and without a port (test
    clients, a local proxy on port 80); the listening address too when it is a specific one."""
    raw = settings.allowed_hosts.strip()
    if raw == "*":
        return None
    if raw:
        return frozenset((n, p or None) for n, p in (_split_host(h) for h in raw.split(",") if h.strip()))
    names = list(LOOPBACK_NAMES)
    host = settings.host.strip().lower()
    if host and host not in ("0.0.0.0", "::", "[::]"):
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    return frozenset((n, p) for n in names for p in (str(settings.port), ""))


def host_allowed(allowed: frozenset[tuple[str, str | None]] | None, host: str) -> bool:
    """Does a request's Host value name this server?"""
    if allowed is None:
        return True
    name, port = _split_host(host)
    return bool(name) and ((name, None) in allowed or (name, port) in allowed)


class HostGuard:
    """WSGI: refuse a request whose Host is not ours with a 400 JSON error, before Flask, Socket.IO or any hook.
    A browser sends the name it resolved, so a DNS-rebinding page on an attacker's name is refused here even
    though its address is 127.0.0.1 and its Origin matches its Host."""

    def __init__(self, wsgi_app, allowed) -> None:
        self.wsgi_app, self.allowed = wsgi_app, allowed

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or ""
        if host_allowed(self.allowed, host):
            return self.wsgi_app(environ, start_response)
        log.info("refused Host %r from %s", host[:100], environ.get("REMOTE_ADDR"))
        body = json.dumps({"error": {"status": 400, "field": "Host",
                                     "message": "this server does not answer to that host name (GC_ALLOWED_HOSTS)"}})
        start_response("400 Bad Request", [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                           ("Content-Length", str(len(body)))])
        return [body.encode()]


def trusted_proxies(settings) -> int:
    """GC_TRUSTED_PROXIES as a hop count (a bad value stopped the start when the settings were built)."""
    return settings.trusted_proxies


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure exactly when this request came over HTTPS (directly or via a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return has_request_context() and request.is_secure


def install_edge(app: Flask, services) -> None:
    """Wrap the whole WSGI app (call last, after Socket.IO's middleware): Host check outermost, then ProxyFix."""
    hops = trusted_proxies(services.settings)
    inner = ProxyFix(app.wsgi_app, x_for=hops, x_proto=min(hops, 1), x_host=0, x_port=0, x_prefix=0) \
        if hops else app.wsgi_app
    app.wsgi_app = HostGuard(inner, allowed_hosts(services.settings))


def register(app: Flask, services) -> None:
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.session_interface = SessionCookies()
    limiters = _limiters(services.settings)
    app.extensions["gc_rate_limiters"] = limiters
    idle_s = services.settings.session_idle_min * 60
    display_age = int(services.settings.display_cookie_days * 86400)

    @app.before_request
    def _harden():
        g.gc_t0 = time.perf_counter()  # for Server-Timing
        services.db.turn_wait(reset=True)
        rk = _rate_key()
        if rk and not limiters.take(*rk):
            return too_many(limiters, *rk, "too many requests; slow down")
        token = request.args.get("display_token")
        if token and request.method == "GET":
            return _display_sign_in(token)
        if "_user_id" in session:
            seen = session.get("gc_seen", 0)
            if seen and time.time() - seen > idle_s:
                logout_user()
                session.clear()
                g.gc_session_expired = True
        problem = _csrf_problem(services)
        if problem:
            r = jsonify({"error": {"status": 403, "message": problem, "field": CSRF_HEADER}})
            r.status_code = 403
            return r
        return None

    def _display_sign_in(token: str):
        row = known_key(services, token)
        ok = row is not None and row.role == Role.DISPLAY
        if not ok:
            r = jsonify({"error": {"status": 401, "message": "invalid or revoked display token",
                                   "field": "display_token"}})
            r.status_code = 401
            return r
        rest = {k: v for k, v in request.args.items() if k != "display_token"}
        resp = redirect(request.path + ("?" + urlencode(rest) if rest else ""), code=302)
        resp.set_cookie(DISPLAY_COOKIE, token, max_age=display_age, httponly=True, samesite="Lax",
                        secure=request.is_secure)
        return resp

    mode = services.settings.csp or (
        "enforce" if services.settings.production else "report-only")
    csp_header = "Content-Security-Policy" if mode == "enforce" else "Content-Security-Policy-Report-Only"

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.setdefault(csp_header, csp(app))
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(self)")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith(("/api/", "/auth/")):
            h.setdefault("Cache-Control", "no-store")
            if "gc_t0" in g:  # where a slow answer's time went: all of it, and the wait for SQLite's write turn
                h.setdefault("Server-Timing", f"app;dur={(time.perf_counter() - g.gc_t0) * 1000:.1f}, "
                                              f"write-turn;dur={services.db.turn_wait() * 1000:.1f}")
        if not request.cookies.get(CSRF_COOKIE):
            resp.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), samesite="Strict", secure=request.is_secure)
        if "_user_id" in session:
            now = int(time.time())
            if now - session.get("gc_seen", 0) > 30:
                session["gc_seen"] = now
        return resp


def security_summary(services) -> dict[str, Any]:
    """The effective hardening settings (for docs and tests)."""
    return {name: conf(services.settings, name) for name in HARDENING}
