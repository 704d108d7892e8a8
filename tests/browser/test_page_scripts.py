"""Each page loads only its own scripts and still works: in Chromium, every page starts without an error with
its own script's object present and the other pages' absent (layouts/page_scripts.py)."""
from __future__ import annotations

import pytest

from tests.browser.conftest import watch_page
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# path → (what shows the page's script has run, objects that must be there, objects that must not)
PAGES = {
    # the wall calls a camera's workers (#27 item 4): it has the call widget's script
    "/wall": ("() => window.GCWall && GCWall.map.live()", ["GCWallMap", "GCDrill", "GCCoverage", "GCCall"],
              ["GCMobile", "GCConsole", "GCPatrol"]),
    "/m": ("() => window.GCMobile && GCMobile.state()", ["GCCall", "GCGeo", "GCLive"],
           ["GCWall", "GCWallMap", "GCWallPanels", "GCConsole", "GCPatrol", "GCDrill", "GCCoverage", "GCBrief"]),
    "/console": ("() => !!window.GCConsole", ["GCCall", "GCDrill", "GCCoverage", "GCGeo"],
                 ["GCWall", "GCMobile", "GCPatrol"]),
    "/patrol": ("() => !!document.querySelector('#patrol-root') && !!window.GCPatrol", ["GCCall", "GCDrill"],
                ["GCWall", "GCMobile", "GCConsole"]),
    "/briefing": ("() => !!window.GCBrief", [], ["GCWall", "GCMobile", "GCConsole", "GCPatrol", "GCCall"]),
    "/call": ("() => !!window.GCCall", [], ["GCWall", "GCMobile", "GCConsole", "GCPatrol"]),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("scripts"), "--no-sim").start(timeout=180)
    yield srv
    srv.stop()


@pytest.mark.parametrize("path", list(PAGES))
def test_page_runs_with_only_its_scripts(browser, server, path):
    ready, present, absent = PAGES[path]
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = ctx.new_page()
        watch = watch_page(page)
        loaded: list[str] = []
        page.on("request", lambda r: loaded.append(r.url.split("?")[0].rsplit("/", 1)[-1])
                if "/assets/" in r.url and r.url.split("?")[0].endswith(".js") else None)
        page.goto(server.url + path)
        page.wait_for_function(ready, timeout=60000)
        got = page.evaluate("names => names.map(n => !!window[n])", present + absent)
        assert got == [True] * len(present) + [False] * len(absent), dict(zip(present + absent, got))
        assert len(loaded) == len(set(loaded)), loaded
        page.wait_for_timeout(500)
        watch.assert_clean()
    finally:
        ctx.close()
