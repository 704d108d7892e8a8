"""Issue 25 item 5: a saved session cookie must stop working after logout, a password change or reset, a role or
jurisdiction change and disabling; the session cookie is SameSite=Lax and Secure over HTTPS; X-Forwarded-* are
believed only from the configured number of trusted proxies."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.models import AuditLog, User
from dashboard.services.users import hash_password
from tests.security.conftest import build_world

PASSWORD = "correct horse 1"
ADDR = {"REMOTE_ADDR": "10.3.0.1"}


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("sessions"), with_pages=False)
    with w.services.db.write() as s:
        for name in ("anna", "ben", "cara", "dan", "eve", "fay"):
            s.add(User(username=name, display_name=name, role="dispatcher", password_hash=hash_password(PASSWORD)))
    yield w
    w.services.shutdown()


def signed_in(w, username: str, password: str = PASSWORD):
    c = w.app.test_client()
    r = c.post("/auth/login", json={"username": username, "password": password}, environ_base=ADDR)
    assert r.status_code == 200, r.get_data(as_text=True)
    return c


def session_cookie(c) -> str:
    return c.get_cookie("session").value


def replay(w, cookie: str):
    """A new browser that presents a saved copy of a session cookie."""
    c = w.app.test_client()
    c.set_cookie("session", cookie)
    return c


def works(c) -> bool:
    r = c.get("/api/v1/cases", environ_base=ADDR)
    assert r.status_code in (200, 401), r.get_data(as_text=True)
    return r.status_code == 200


def csrf(c) -> dict:
    return {"X-CSRF-Token": c.get_cookie("gc_csrf").value}


def user_id(w, username: str) -> int:
    with w.services.db.read() as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_a_saved_cookie_is_spent_by_logout(sw):
    c = signed_in(sw, "anna")
    saved = session_cookie(c)
    assert works(replay(sw, saved))
    assert c.post("/auth/logout", headers=csrf(c), environ_base=ADDR).status_code == 200
    assert not works(c)
    assert not works(replay(sw, saved))
    assert works(signed_in(sw, "anna"))  # signing in again starts a new, valid session


def test_a_password_change_ends_every_other_session(sw):
    here, there = signed_in(sw, "ben"), signed_in(sw, "ben")
    saved = session_cookie(there)
    r = here.post("/auth/password", json={"old_password": PASSWORD, "new_password": "another long secret 7"},
                  headers=csrf(here), environ_base=ADDR)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert works(here)  # the session that changed it carries on
    assert not works(there) and not works(replay(sw, saved))


@pytest.mark.parametrize("username, change", [
    ("cara", {"role": "leader"}),
    ("dan", "community"),
    ("eve", {"active": False}),
    ("fay", {"password": "a reset long secret 3"}),
])
def test_an_admin_change_ends_the_users_sessions(sw, username, change):
    c = signed_in(sw, username)
    saved = session_cookie(c)
    assert works(c)
    body = {"community_id": sw.ids["community_a"]} if change == "community" else change
    r = sw.client("admin").patch(f"/api/v1/users/{user_id(sw, username)}", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert not works(c) and not works(replay(sw, saved))


def test_an_unrelated_edit_keeps_the_session(sw):
    with sw.services.db.write() as s:
        s.add(User(username="gus", display_name="gus", role="dispatcher", password_hash=hash_password(PASSWORD)))
    c = signed_in(sw, "gus")
    r = sw.client("admin").patch(f"/api/v1/users/{user_id(sw, 'gus')}", json={"display_name": "Gus", "role": "dispatcher"})
    assert r.status_code == 200
    assert works(c)


def test_session_valid_answers_for_the_live_channel(sw):
    from dashboard.principal import session_valid

    with sw.services.db.write() as s:
        s.add(User(username="hal", display_name="hal", role="dispatcher", password_hash=hash_password(PASSWORD)))
    c = signed_in(sw, "hal")
    with c.session_transaction() as sess:
        copy = dict(sess)
    assert session_valid(sw.services, copy)
    assert not session_valid(sw.services, {})
    assert not session_valid(sw.services, {**copy, "gc_gen": copy["gc_gen"] - 1})
    c.post("/auth/logout", headers=csrf(c), environ_base=ADDR)
    assert not session_valid(sw.services, copy)


def set_cookie_of(resp, name: str) -> str:
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def test_the_session_cookie_is_lax_and_secure_over_https(sw):
    with sw.services.db.write() as s:
        s.add(User(username="ivy", display_name="ivy", role="dispatcher", password_hash=hash_password(PASSWORD)))
    body = {"username": "ivy", "password": PASSWORD}
    r = sw.app.test_client().post("/auth/login", json=body, environ_base=ADDR)
    plain = set_cookie_of(r, "session")
    assert "SameSite=Lax" in plain and "HttpOnly" in plain and "Secure" not in plain
    r = sw.app.test_client().post("/auth/login", json=body, environ_base=ADDR, base_url="https://localhost")
    assert "Secure" in set_cookie_of(r, "session") and "SameSite=Lax" in set_cookie_of(r, "session")


def proxied_world(tmp, hops: str):
    w = build_world(tmp, with_pages=False, extra={"GC_TRUSTED_PROXIES": hops})
    with w.services.db.write() as s:
        s.add(User(username="jo", display_name="jo", role="dispatcher", password_hash=hash_password(PASSWORD)))
    return w


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def sign_in_via_proxy(w):
    return w.app.test_client().post("/auth/login", json={"username": "jo", "password": PASSWORD},
                                    environ_base={"REMOTE_ADDR": "10.0.0.2"}, headers=FORWARDED)


def last_sign_in_address(w) -> str:
    with w.services.db.read() as s:
        return s.scalar(select(AuditLog.ip).where(AuditLog.action == "sign_in").order_by(AuditLog.id.desc()))


def test_forwarded_headers_are_believed_only_from_a_trusted_proxy(tmp_path):
    w = proxied_world(tmp_path / "none", "0")
    try:  # no proxy configured: anyone could send these headers, so they change nothing
        r = sign_in_via_proxy(w)
        assert r.status_code == 200
        assert "Secure" not in set_cookie_of(r, "session") and "Strict-Transport-Security" not in r.headers
        assert last_sign_in_address(w) == "10.0.0.2"
    finally:
        w.services.shutdown()
    w = proxied_world(tmp_path / "one", "1")
    try:  # behind the documented nginx: the client's address and scheme are the proxy's word
        r = sign_in_via_proxy(w)
        assert r.status_code == 200
        assert "Secure" in set_cookie_of(r, "session") and "Strict-Transport-Security" in r.headers
        assert last_sign_in_address(w) == "203.0.113.7"
        # a client that adds its own X-Forwarded-For in front is still seen at the address nginx saw
        r = w.app.test_client().post("/auth/login", json={"username": "jo", "password": "wrong"},
                                     environ_base={"REMOTE_ADDR": "10.0.0.2"},
                                     headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.9"})
        with w.services.db.read() as s:
            ip = s.scalar(select(AuditLog.ip).where(AuditLog.action == "sign_in_failed").order_by(AuditLog.id.desc()))
        assert ip == "198.51.100.9"
    finally:
        w.services.shutdown()


def test_a_bad_hop_count_stops_the_start(tmp_path):
    with pytest.raises(SystemExit, match="GC_TRUSTED_PROXIES"):
        build_world(tmp_path, with_pages=False, extra={"GC_TRUSTED_PROXIES": "yes"})
