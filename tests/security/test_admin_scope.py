"""A community-bound admin manages its own community's users and keys only: it cannot mint a street-wide
(or another community's) account or key, which would lift its own binding."""
from __future__ import annotations

from sqlalchemy import func, select

from dashboard.models import ApiKey, User
from dashboard.services.apikeys import create_api_key


def admin_a(world):
    with world.services.db.write() as s:
        _, key = create_api_key(s, name="admin-a", role="admin", community_id=world.ids["community_a"])
    c = world.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    return c


def counts(world):
    with world.services.db.read() as s:
        return s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(ApiKey))


def test_community_admin_cannot_create_street_wide_or_other_community_accounts(world):
    a, street = admin_a(world), world.client("admin")
    ca, cb = world.ids["community_a"], world.ids["community_b"]
    before = counts(world)
    for body in ({"username": "x-b", "role": "dispatcher", "password": "a long password 1", "community_id": cb},
                 {"username": "x-street", "role": "dispatcher", "password": "a long password 1", "community_id": None}):
        r = a.post("/api/v1/users", json=body)
        assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id", r.get_json()
    r = a.post("/api/v1/api-keys", json={"name": "k-b", "role": "display", "community_id": cb})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id"
    assert counts(world) == before  # nothing written
    # without a community the new account and key are its own community's
    r = a.post("/api/v1/users", json={"username": "op-a", "role": "leader", "password": "a long password 1"})
    assert r.status_code == 201 and r.get_json()["community_id"] == ca
    r = a.post("/api/v1/api-keys", json={"name": "wall-a", "role": "display"})
    assert r.status_code == 201 and r.get_json()["community_id"] == ca
    # the street's admin may do what A's was refused
    r = street.post("/api/v1/users", json={"username": "x-b", "role": "dispatcher", "password": "a long password 1",
                                           "community_id": cb})
    assert r.status_code == 201, r.get_json()
    b_user = r.get_json()["id"]
    # A's admin neither sees nor edits B's user, nor moves its own user out of its community
    assert b_user not in {u["id"] for u in a.get("/api/v1/users").get_json()["users"]}
    assert a.patch(f"/api/v1/users/{b_user}", json={"active": False}).status_code == 404
    own = next(u["id"] for u in a.get("/api/v1/users").get_json()["users"] if u["username"] == "op-a")
    r = a.patch(f"/api/v1/users/{own}", json={"community_id": None})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id"
    assert all(k["community_id"] == ca for k in a.get("/api/v1/api-keys").get_json()["keys"])
