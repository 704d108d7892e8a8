"""The CSP in a real browser: the pages load and run with no Content-Security-Policy violation."""
from __future__ import annotations

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
PAGES = ["/wall", "/console", "/m", "/briefing"]


def test_pages_run_under_the_csp_without_violations(tmp_path, browser):
    # the demo street with its simulator, demo operator on, the CSP enforced as in production
    srv = LiveServer(tmp_path, env={"GC_CSP": "enforce"}).start(timeout=150)
    ctx = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        for path in PAGES:
            page = ctx.new_page()
            page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                                 "console.error('Content Security Policy: ' + e.violatedDirective + ' ' +"
                                 " e.blockedURI); });")
            problems: list[str] = []
            page.on("console", lambda m, pr=problems: pr.append(m.text) if (
                "Content Security Policy" in m.text or "Content-Security-Policy" in m.text) else None)
            page.on("pageerror", lambda e, pr=problems: pr.append(f"pageerror: {e}"))
            resp = page.goto(srv.url + path)
            assert "default-src 'self'" in resp.headers["content-security-policy"]
            # (no string predicates here: Playwright evaluates those with eval, which the CSP forbids)
            page.wait_for_selector("#shell-page > *", state="attached", timeout=60000)
            page.wait_for_timeout(6000)  # maps draw (MapLibre workers from blob:), sockets connect
            assert page.evaluate("() => typeof window.Plotly !== 'undefined' && !!window.GCLive"), path
            assert not problems, f"{path}: {problems}"
            page.screenshot(path=str(srv.tmp / f"csp{path.replace('/', '_')}.png"))
            page.close()
    finally:
        ctx.close()
        srv.stop()
