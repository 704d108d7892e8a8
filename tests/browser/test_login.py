"""Desk sign-in: with demo mode off, a person signs in on /login and lands where they were heading."""
from __future__ import annotations

import re

import pytest
import requests

pytestmark = pytest.mark.browser


def test_admin_signs_in_with_the_first_run_password_and_a_wrong_one_is_refused(pages, live_server):
    srv = live_server("--no-sim", env={"GC_DEMO": "0"})
    m = re.search(r"created admin '([^']+)' with one-time password (\S+)", srv.log())
    assert m, "the first run must print the admin's one-time password"
    username, password = m.groups()
    assert requests.get(srv.url + "/auth/me", timeout=5).json()["signed_in"] is False  # no implicit operator

    # a private page sends a signed-out visitor to the sign-in page, remembering where they were heading
    page, watch = pages(srv.url + "/console", wait_for="#gc-login-form")
    assert page.url == srv.url + "/login?next=%2Fconsole"
    page.fill("#gc-login-username", username)
    page.fill("#gc-login-password", password + "x")
    page.click("#gc-login-submit")
    page.wait_for_function("() => document.getElementById('gc-login-error').textContent.length > 0")
    assert "用户名或密码错误" in page.inner_text("#gc-login-error")
    assert page.url.endswith("/login?next=%2Fconsole")

    page.fill("#gc-login-password", password)
    page.click("#gc-login-submit")
    # a one-time password: first a password of one's own (issue 28), then where they were heading
    page.wait_for_url(srv.url + "/password?next=%2Fconsole", timeout=15000)
    page.fill("#gc-password-old", password)
    page.fill("#gc-password-new", "a password of my own")
    page.fill("#gc-password-repeat", "a password of my own")
    page.click("#gc-password-submit")
    page.wait_for_url(srv.url + "/console", timeout=15000)
    me = page.evaluate("() => fetch('/auth/me').then(r => r.json())")
    assert me["signed_in"] and me["role"] == "admin" and me["via"] == "session"
    watch.errors = [e for e in watch.errors if "401" not in e and "403" not in e]  # the wrong try, and the
    assert not watch.outside                                                        # password-change gate


def test_next_never_leaves_the_server(pages, live_server):
    srv = live_server("--no-sim", env={"GC_DEMO": "0"})
    page, _ = pages(srv.url + "/login?next=//evil.example/x", wait_for="#gc-login-form")
    assert page.get_attribute("#gc-login-form", "data-next") == "/"
