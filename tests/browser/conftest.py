"""Browser fixtures: one headless Chromium per session (Debian's, no download) and a page watcher.

    def test_x(browser, live_server):
        srv = live_server("--no-sim")
        page, watch = open_page(browser, srv.url + "/wall")
        ...
        watch.assert_clean()          # no console errors, no request to another host

``open_page`` gives each test its own browser context (cookies, storage), closed by the
``pages`` fixture or by the caller.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (the session ``browser`` fixture lives there)
LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension"}


@dataclass
class PageWatch:
    """What a page did that a test cares about: console errors, page errors, requests to other hosts."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    requests: int = 0

    def on_console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} @ {msg.location}")

    def on_request(self, url: str) -> None:
        self.requests += 1
        u = urlparse(url)
        if u.scheme in LOCAL_SCHEMES:
            return
        if u.hostname not in LOCAL_HOSTS:
            self.outside.append(url)

    def assert_clean(self) -> None:
        assert not self.errors, "console/page errors:\n" + "\n".join(self.errors[:20])
        assert not self.outside, "requests to other hosts:\n" + "\n".join(self.outside[:20])


def watch_page(page) -> PageWatch:
    """Start collecting console errors and outside requests (HTTP and WebSocket) of ``page``."""
    w = PageWatch()
    page.on("console", w.on_console)
    page.on("pageerror", lambda exc: w.errors.append(f"pageerror: {exc} {(getattr(exc, 'stack', '') or '')[:600]}"))
    page.on("request", lambda req: w.on_request(req.url))
    page.on("websocket", lambda ws: w.on_request(ws.url))
    return w


def open_page(browser, url: str, *, width: int = 1920, height: int = 1080, wait_for: str | None = None,
              timeout_ms: int = 20000, slow: dict[str, float] | None = None):
    """A fresh context + page at ``url`` with a watcher attached before the first request.

    ``slow`` maps URL globs to seconds: those responses are held back that long, to replay a slow network's order.
    """
    ctx = browser.new_context(viewport={"width": width, "height": height})
    for pattern, seconds in (slow or {}).items():
        ctx.route(pattern, _held_for(seconds))
    page = ctx.new_page()
    w = watch_page(page)
    page.goto(url)
    if wait_for:
        page.wait_for_selector(wait_for, timeout=timeout_ms)
    return page, w


def _held_for(seconds: float):
    def hold(route):
        time.sleep(seconds)  # blocks only this test's driver; the browser goes on loading everything else
        route.continue_()
    return hold


@pytest.fixture
def pages(browser):
    """Factory like ``open_page``; every context it opened is closed after the test."""
    opened = []

    def _open(url: str, **kw):
        page, w = open_page(browser, url, **kw)
        opened.append(page.context)
        return page, w

    yield _open
    for ctx in opened:
        ctx.close()
