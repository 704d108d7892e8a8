"""Every path that sets a password holds it to the same strength rule (issue 30 item 9): a new account's, an
admin's reset and a user's own change all take the password through one pydantic type (services/users.py
NewPassword), so none can skip the rule as the reset once did. A refused password changes nothing."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from dashboard.models import User
from dashboard.services.users import hash_password

WEAK = ["short1", "1234567890123", "aaaaaaaaaaaa", "abab" * 4]
STRONG = "a strong new secret 5"


def _hash(world, username: str) -> str | None:
    with world.services.db.read() as s:
        return s.scalar(select(User.password_hash).where(User.username == username))


@pytest.fixture
def person(world):
    """A signed-in user (a session with its CSRF token) whose password is known."""
    name = f"pw-{uuid.uuid4().hex[:12]}"
    with world.services.db.write() as s:
        s.add(User(username=name, display_name="p", role="leader", password_hash=hash_password("the old secret 77")))
    c = world.app.test_client()
    r = c.post("/auth/login", json={"username": name, "password": "the old secret 77"},
               environ_base={"REMOTE_ADDR": "10.9.0.9"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return name, c, {"X-CSRF-Token": c.get_cookie("gc_csrf").value}


@pytest.mark.parametrize("weak", WEAK)
def test_a_new_account_refuses_a_weak_password(world, weak):
    r = world.client("admin").post("/api/v1/users", json={"username": f"new-{weak}", "role": "leader",
                                                           "password": weak})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "password", r.get_json()
    assert _hash(world, f"new-{weak}") is None


@pytest.mark.parametrize("weak", WEAK)
def test_an_admin_reset_refuses_a_weak_password(world, person, weak):
    name, _, _ = person
    before = _hash(world, name)
    with world.services.db.read() as s:
        uid = s.scalar(select(User.id).where(User.username == name))
    r = world.client("admin").patch(f"/api/v1/users/{uid}", json={"password": weak})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "password", r.get_json()
    assert _hash(world, name) == before


@pytest.mark.parametrize("weak", WEAK)
def test_my_own_change_refuses_a_weak_password(world, person, weak):
    name, c, csrf = person
    before = _hash(world, name)
    r = c.post("/auth/password", json={"old_password": "the old secret 77", "new_password": weak}, headers=csrf,
               environ_base={"REMOTE_ADDR": "10.9.0.9"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "new_password", r.get_json()
    assert _hash(world, name) == before


def test_each_path_takes_a_strong_password(world, person):
    """The rule refuses what is weak, not everything: the same three paths accept a strong password."""
    name, c, csrf = person
    admin = world.client("admin")
    assert admin.post("/api/v1/users", json={"username": "strong-new", "role": "leader",
                                             "password": STRONG}).status_code == 201
    r = c.post("/auth/password", json={"old_password": "the old secret 77", "new_password": STRONG}, headers=csrf,
               environ_base={"REMOTE_ADDR": "10.9.0.9"})
    assert r.status_code == 200, r.get_json()
    with world.services.db.read() as s:
        uid = s.scalar(select(User.id).where(User.username == name))
    assert admin.patch(f"/api/v1/users/{uid}", json={"password": STRONG + "x"}).status_code == 200
