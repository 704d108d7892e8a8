"""A signed-in user's live sockets end with the session (issue 26 item 2): logout, a password reset, a role
change and disabling each close them at the guard's next pass; other users' sockets stay."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from dashboard.models import User
from dashboard.services.users import hash_password
from tests.security.conftest import build_world

PASSWORD = "correct horse 1"
ADDR = {"REMOTE_ADDR": "10.3.0.9"}
NAMES = ("ann", "bo", "cy", "di", "ed")


@pytest.fixture(scope="module")
def lw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("live-sessions"), with_pages=False)
    with w.services.db.write() as s:
        for name in NAMES:
            s.add(User(username=name, display_name=name, role="dispatcher", password_hash=hash_password(PASSWORD)))
    yield w
    w.services.shutdown()


def live(w, username: str):
    """(http client, socket client) of a freshly signed-in user."""
    c = w.app.test_client()
    r = c.post("/auth/login", json={"username": username, "password": PASSWORD}, environ_base=ADDR)
    assert r.status_code == 200, r.get_data(as_text=True)
    sock = w.services.socketio.test_client(w.app, flask_test_client=c)
    assert sock.is_connected()
    return c, sock


def set_user(w, username: str, **values) -> None:
    with w.services.db.write() as s:
        s.execute(update(User).where(User.username == username).values(**values))


@pytest.mark.parametrize("name,end", [
    ("ann", lambda w, c: c.post("/auth/logout", headers={"X-CSRF-Token": c.get_cookie("gc_csrf").value},
                                environ_base=ADDR)),
    ("bo", lambda w, c: set_user(w, "bo", active=False)),
    ("cy", lambda w, c: set_user(w, "cy", role="leader")),
    ("di", lambda w, c: set_user(w, "di", must_change_password=True)),
])
def test_a_socket_ends_with_its_session(lw, name, end):
    c, sock = live(lw, name)
    _, other = live(lw, "ed")
    guard = lw.services.socket_guard
    assert guard.close_stale() == 0  # nothing changed yet: nothing closes
    end(lw, c)
    assert guard.close_stale() == 1
    assert not sock.is_connected() and other.is_connected()
    other.disconnect()
