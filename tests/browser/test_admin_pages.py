"""Administration on screen (issue 28): the first sign-in sets a password, /admin makes a dispatcher and a wall's
display token, the wall opens with it and falls back to the sign-in page once it is revoked."""
from __future__ import annotations

import re

import pytest
import requests

pytestmark = pytest.mark.browser
SHOTS = __import__("os").environ.get("GC_TEST_SHOTS")  # set to a directory to keep screenshots while working on the page


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def _first_admin(srv) -> tuple[str, str]:
    m = re.search(r"created admin '([^']+)' with one-time password (\S+)", srv.log())
    assert m, "the first run must print the admin's one-time password"
    return m.group(1), m.group(2)


def _sign_in(page, username: str, password: str) -> None:
    page.fill("#gc-login-username", username)
    page.fill("#gc-login-password", password)
    page.click("#gc-login-submit")


def test_fresh_admin_changes_password_makes_a_dispatcher_and_a_display_token_then_revokes_it(pages, live_server,
                                                                                                browser):
    srv = live_server("--no-sim", env={"GC_DEMO": "0"})
    username, one_time = _first_admin(srv)

    page, watch = pages(srv.url + "/admin", wait_for="#gc-login-form")
    _sign_in(page, username, one_time)
    # made to change the one-time password before any page: /admin is not shown yet
    page.wait_for_selector("#gc-password-form", timeout=15000)
    assert "/password" in page.url and "next=%2Fadmin" in page.url
    # another page is not reachable either, by address or through the API
    assert page.evaluate("() => fetch('/api/v1/users').then(r => r.status)") == 403
    rules = lambda: {li.get_attribute("data-rule"): li.get_attribute("class")  # noqa: E731
                     for li in page.query_selector_all("#gc-password-rules li")}
    page.fill("#gc-password-old", one_time)
    page.fill("#gc-password-new", "12345")
    assert rules()["length"] == "bad" and rules()["digits"] == "bad"  # shown as they type
    new_password = "Gr1d-command-" + one_time[:4]
    page.fill("#gc-password-new", new_password)
    page.fill("#gc-password-repeat", new_password[:-1])
    assert rules()["length"] == "good" and rules()["match"] == "bad"
    _shot(page, "password")
    page.fill("#gc-password-repeat", new_password)
    assert set(rules().values()) == {"good"}
    page.click("#gc-password-submit")
    page.wait_for_url(srv.url + "/admin", timeout=15000)

    # a dispatcher
    page.wait_for_selector("#admin-user-form")
    page.fill("#admin-user-username", "disp1")
    page.fill("#admin-user-display", "值班员一")
    page.select_option("#admin-user-role", "dispatcher")
    page.click("#admin-user-create")
    page.wait_for_selector("#admin-users-table tr[data-user='disp1']")
    disp_password = page.get_attribute("#admin-user-password [data-secret='password']", "data-secret") and \
        page.inner_text("#admin-user-password [data-secret='password']")
    assert len(disp_password) >= 10
    _shot(page, "users")
    # the dispatcher can sign in with it (and is then asked for a password of their own)
    login = requests.post(srv.url + "/auth/login", json={"username": "disp1", "password": disp_password}, timeout=10)
    assert login.status_code == 200 and login.json()["role"] == "dispatcher" and login.json()["must_change_password"]

    # a display token: shown once, with its kiosk URL and a QR code
    page.click("#admin-tab-keys")
    page.wait_for_selector("#admin-key-form")
    page.fill("#admin-key-name", "大厅大屏")
    page.select_option("#admin-key-role", "display")
    page.click("#admin-key-create")
    page.wait_for_selector("#admin-key-shown-qr svg")
    kiosk = page.inner_text("#admin-key-shown [data-secret='kiosk']")
    assert kiosk.startswith(srv.url + "/wall?display_token=gc_")
    assert page.query_selector_all("#admin-key-shown-qr svg path")
    _shot(page, "keys")

    # the wall opens with that token, in a browser that never signed in
    wall_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        wall = wall_ctx.new_page()
        wall.goto(kiosk)
        wall.wait_for_url(srv.url + "/wall", timeout=15000)
        wall.wait_for_selector(".wall-root, #wall-root, .wall-header", timeout=20000)
        assert wall.evaluate("() => fetch('/auth/me').then(r => r.json())")["role"] == "display"

        # revoked on /admin: the wall falls back to the sign-in page at its next load
        page.click("#admin-tab-keys")  # the list again: the wall's use shows
        page.wait_for_function("() => { const r = document.querySelector(\"#admin-keys-table tr[data-key='大厅大屏']\");"
                               " return r && !r.innerText.includes('从未使用'); }", timeout=10000)  # the wall used it
        row = page.locator("#admin-keys-table tr[data-key='大厅大屏']")
        row.locator("button[data-action='revoke']").click()
        page.wait_for_selector("#admin-keys-table tr[data-key='大厅大屏'].admin-off")
        wall.reload()
        wall.wait_for_selector("#gc-login-form", timeout=15000)
        assert "/login?next=%2Fwall" in wall.url
    finally:
        wall_ctx.close()

    # the audit log names what was done
    page.click("#admin-tab-audit")
    page.wait_for_selector("#admin-audit-table tr[data-action='api_key_revoke']")
    page.select_option("#admin-audit-action", "user_create")
    page.click("#admin-audit-search")
    page.wait_for_function("() => document.querySelectorAll('#admin-audit-table tbody tr[data-action]').length === 1")
    assert "新建用户" in page.inner_text("#admin-audit-table tbody") and "user:" in page.inner_text("#admin-audit-table")
    _shot(page, "audit")
    watch.errors = [e for e in watch.errors if "403" not in e]  # the refused /api/v1/users probe above
    watch.assert_clean()
