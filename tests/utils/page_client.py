"""A Flask test client that speaks as a page of this app does.

Every page loads dashboard/assets/05-csrf.js, which sends the ``gc_csrf`` cookie back as the
``X-CSRF-Token`` header on each same-origin request that changes state. The demo operator needs
that token (issue 25: a page of another site cannot read it), so API tests that act as the demo
operator from 127.0.0.1 use this client. Security tests that check the refusal use Flask's own.
"""
from __future__ import annotations

import secrets

from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

SAFE = {"GET", "HEAD", "OPTIONS"}


class PageClient(FlaskClient):
    """``app.test_client()`` that adds the CSRF header (and its cookie) to POST, PUT, PATCH and DELETE."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.csrf_token = secrets.token_urlsafe(24)

    def open(self, *args, **kwargs):  # noqa: ANN002, ANN003
        method = str(kwargs.get("method") or "GET").upper()
        if method not in SAFE:
            if self.get_cookie("gc_csrf") is None:
                self.set_cookie("gc_csrf", self.csrf_token)
            headers = Headers(kwargs.get("headers") or {})
            if "X-CSRF-Token" not in headers:
                headers["X-CSRF-Token"] = self.get_cookie("gc_csrf").value
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


_SESSIONS: dict[str, object] = {}


def demo_http(base_url: str):
    """A ``requests`` session that acts as the demo operator's page on a live server at ``base_url``: it holds the
    ``gc_csrf`` cookie the server hands out and sends it back as the header (one session per server)."""
    import requests

    s = _SESSIONS.get(base_url)
    if s is None:
        s = requests.Session()
        s.get(base_url + "/healthz", timeout=30).raise_for_status()
        s.headers["X-CSRF-Token"] = s.cookies["gc_csrf"]
        _SESSIONS[base_url] = s
    return s
