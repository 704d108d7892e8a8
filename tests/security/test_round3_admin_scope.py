"""Round 3: what a community-bound admin can reach through today's /admin calls (departments, users, keys, display
tokens, governance targets, worker edits). Street-wide settings are a street-wide admin's; another community's
records do not exist for it; nothing it creates lands outside its community or above its role."""
from __future__ import annotations

import pytest

from dashboard.services.apikeys import create_api_key
from tests.security.conftest import build_world


@pytest.fixture(scope="module")
def aw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("r3admin"), with_pages=False)
    with w.services.db.write() as s:
        _, w.keys["admin_a"] = create_api_key(s, name="admin-a", role="admin", community_id=w.ids["community_a"])
    yield w
    w.services.shutdown()


def cadmin(w):
    c = w.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = w.keys["admin_a"]
    return c


def test_community_admin_cannot_set_the_streets_governance_targets(aw):
    r = cadmin(aw).get("/api/v1/governance/targets")
    key = r.get_json()["targets"][0]["key"]
    r = cadmin(aw).put(f"/api/v1/governance/targets/{key}", json={"target": 0.001})
    assert r.status_code == 403, r.get_data(as_text=True)
    assert aw.client("admin").put(f"/api/v1/governance/targets/{key}", json={"target": 5}).status_code == 200


@pytest.mark.parametrize("body", [{"community_id": None}, {"community_id": "B"}, {"community_id": 0}])
def test_community_admin_keys_and_users_stay_in_its_community(aw, body):
    b = aw.ids["community_b"]
    for extra in (body, {"community_id": b}):
        r = cadmin(aw).post("/api/v1/api-keys", json={"name": "k", "role": "display", **extra})
        assert r.status_code in (400, 403, 422), (extra, r.get_data(as_text=True))
        r = cadmin(aw).post("/api/v1/users", json={"username": f"u{extra}", "role": "admin",
                                                   "password": "a long password 99", **extra})
        assert r.status_code in (400, 403, 422), (extra, r.get_data(as_text=True))


def test_community_admin_created_records_are_its_communitys(aw):
    a = aw.ids["community_a"]
    r = cadmin(aw).post("/api/v1/api-keys", json={"name": "wall-a", "role": "display"})
    assert r.status_code == 201 and r.get_json()["community_id"] == a
    r = cadmin(aw).post("/api/v1/users", json={"username": "desk-a", "role": "admin", "password": "a long password 99"})
    assert r.status_code == 201 and r.get_json()["community_id"] == a
    uid = r.get_json()["id"]
    # and cannot lift one of its users out of its community (street-wide = above it)
    r = cadmin(aw).patch(f"/api/v1/users/{uid}", json={"community_id": None})
    assert r.status_code == 403
    r = cadmin(aw).post("/api/v1/departments", json={"name": "街道办X", "community_id": None})
    assert r.status_code == 403


def test_community_admin_cannot_touch_another_communitys_worker(aw):
    r = cadmin(aw).patch(f"/api/v1/workers/{aw.ids['worker_b']}", json={"active": False})
    assert r.status_code == 404


def test_signed_in_admin_writes_need_the_csrf_header(aw):
    """A page of another site can post a form (urlencoded or multipart) with the admin's cookie: without the
    page's X-CSRF-Token the new admin writes refuse it."""
    from dashboard.models import User
    from dashboard.services.users import hash_password

    with aw.services.db.write() as s:
        s.add(User(username="csrf-admin", display_name="csrf", role="admin", password_hash=hash_password("admin pw 123 x")))
    c = aw.app.test_client()
    assert c.post("/auth/login", json={"username": "csrf-admin", "password": "admin pw 123 x"}).status_code == 200
    import io

    posts = [("POST", "/api/v1/departments", {"json": {"name": "csrf-dep"}}),
             ("POST", "/api/v1/users", {"data": {"username": "x", "role": "admin", "password": "p" * 20}}),
             ("POST", "/api/v1/api-keys", {"data": {"name": "x", "role": "display"}}),
             ("POST", "/api/v1/workers/import", {"data": {"file": (io.BytesIO(b"worker_code,name\nW77,x\n"), "w.csv")},
                                                 "content_type": "multipart/form-data"}),
             ("POST", f"/api/v1/devices/{aw.ids['device_a']}/secret", {}),
             ("PUT", "/api/v1/governance/targets/party_per_100_households", {"json": {"target": 3}}),
             ("POST", f"/api/v1/cases/{aw.ids['case_a']}/triage", {"json": {"category_code": "0101"}})]
    for method, url, kw in posts:
        r = c.open(url, method=method, headers={"Origin": "http://evil.example"}, **kw)
        assert r.status_code == 403, (url, r.status_code)
        if "file" in kw.get("data", {}):
            kw["data"]["file"] = (io.BytesIO(b"worker_code,name\nW77,x\n"), "w.csv")
        r = c.open(url, method=method, **kw)
        assert r.status_code == 403 and r.get_json()["error"]["field"] == "X-CSRF-Token", (url, r.status_code)
