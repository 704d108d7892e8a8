"""Round 3: a user still on a one-time (or reset) password reaches nothing but the password change.

The API door (``require``) and the live channel refused such a user; Dash's callback door did not: the page
router sent the browser to /password, but a hand-made POST to /_dash-update-component ran any page callback
(the briefing's figures, the activity form's write) for the holder of a one-time password.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.models import GovernanceActivity, Grid, User
from dashboard.services.users import hash_password
from tests.security.conftest import build_world
from tests.security.test_pages_access import activity_call, briefing_call
from tests.utils.page_client import PageClient

PASSWORD = "one time pass 1"


@pytest.fixture(scope="module")
def otw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("otp"))
    with w.services.db.write() as s:
        s.add(User(username="fresh", display_name="fresh", role="dispatcher", community_id=None,
                   password_hash=hash_password(PASSWORD), must_change_password=True))
    yield w
    w.services.shutdown()


def signed_in(w) -> PageClient:
    c = PageClient(w.app, w.app.response_class, use_cookies=True)
    r = c.post("/auth/login", json={"username": "fresh", "password": PASSWORD})
    assert r.status_code == 200 and r.get_json()["must_change_password"], r.get_data(as_text=True)
    return c


def test_api_refuses_one_time_password(otw):
    c = signed_in(otw)
    assert c.get("/api/v1/cases").status_code == 403


def test_dash_callbacks_refuse_one_time_password(otw):
    c = signed_in(otw)
    r = briefing_call(c, "")
    assert r.status_code == 403, r.get_data(as_text=True)[:300]
    with otw.services.db.read() as s:
        code = s.get(Grid, otw.ids["grid_a"]).code
    r = activity_call(c, "otp-write", code)
    assert r.status_code == 403
    with otw.services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(GovernanceActivity)
                        .where(GovernanceActivity.title == "otp-write")) == 0


def test_page_router_still_leads_to_password_page(otw):
    r = signed_in(otw).post("/_dash-update-component", json={
        "output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
        "inputs": [{"id": "shell-url", "property": "pathname", "value": "/console"}],
        "state": [{"id": "shell-url", "property": "search", "value": ""}],
        "changedPropIds": ["shell-url.pathname"]})
    assert r.status_code == 200 and "shell-to-password" in r.get_data(as_text=True)


def test_password_change_guesses_are_rate_limited(tmp_path):
    """A held session (a console left signed in) must not guess its user's current password without limit
    through POST /auth/password: the sign-in rate applies, with its own budget."""
    w = build_world(tmp_path, with_pages=False, extra={"GC_RATE_LOGIN": "5/300"})
    try:
        with w.services.db.write() as s:
            s.add(User(username="guessed", display_name="g", role="dispatcher",
                       password_hash=hash_password("the real one 123")))
        c = PageClient(w.app, w.app.response_class, use_cookies=True)
        assert c.post("/auth/login", json={"username": "guessed", "password": "the real one 123"}).status_code == 200
        codes = [c.post("/auth/password", json={"old_password": f"guess {i} xx", "new_password": "a new one 4567"})
                 .status_code for i in range(8)]
        assert codes[:5] == [422] * 5 and set(codes[5:]) == {429}, codes
        from dashboard.models import AuditLog

        with w.services.db.read() as s:  # each wrong guess that reached the check is on record
            assert s.scalar(select(func.count()).select_from(AuditLog)
                            .where(AuditLog.action == "password_change_failed")) == 5
        # the sign-in budget of the address is its own
        assert w.app.test_client().post("/auth/login", json={"username": "guessed", "password": "x"}).status_code == 401
    finally:
        w.services.shutdown()
