"""Administration on screen (issue 28), at the HTTP edge: the first sign-in's password door, the not-found page,
the production server without the benchmark's polling wall, a display token's kiosk URL and QR code, and a
community admin's /admin (only its community, through the same API calls)."""
from __future__ import annotations

import json
from types import SimpleNamespace

from dashboard.models import User
from dashboard.services.apikeys import create_api_key
from dashboard.services.users import hash_password
from layouts.app import PAGES, page_module
from tests.security.test_pages_access import route


def _user(world, username: str, password: str, *, role="dispatcher", community_id=None, must_change=True) -> int:
    with world.services.db.write() as s:
        u = User(username=username, role=role, community_id=community_id, password_hash=hash_password(password),
                 must_change_password=must_change)
        s.add(u)
        s.flush()
        return u.id


def _signed_in(world, username: str, password: str):
    c = world.app.test_client()
    r = c.post("/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    c.set_cookie("gc_csrf", "t0k3n")
    c.environ_base["HTTP_X_CSRF_TOKEN"] = "t0k3n"
    return c, r.get_json()


def test_a_one_time_password_leads_to_the_password_page_before_any_other(world):
    _user(world, "newbie", "one-time-pass-1")
    c, me = _signed_in(world, "newbie", "one-time-pass-1")
    assert me["must_change_password"] is True
    for path in ("/console", "/wall", "/", "/admin", "/briefing"):
        r = c.get(path + "?lang=en")
        assert r.status_code == 302, path
        assert r.headers["Location"] == "/password?next=" + path.replace("/", "%2F") + "%3Flang%3Den&lang=en", path
    assert c.get("/password?next=%2Fconsole").status_code == 200
    # the page router (a client-side link) sends it there too, and renders no page
    text = json.dumps(route(c, "/console").get_json(), ensure_ascii=False)
    assert "/password?next=%2Fconsole" in text and "console-header" not in text
    # the password page, in both languages, with its rules
    text = json.dumps(route(c, "/password", "?lang=en&next=/console").get_json(), ensure_ascii=False)
    assert "Set your password" in text and "At least 10 characters" in text and '"data-next": "/console"' in text
    assert "设置新密码" in json.dumps(route(c, "/password", "?lang=zh-CN").get_json(), ensure_ascii=False)
    # a weak new password is refused naming the field; a good one opens the pages
    r = c.post("/auth/password", json={"old_password": "one-time-pass-1", "new_password": "1234567890"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "new_password"
    r = c.post("/auth/password", json={"old_password": "one-time-pass-1", "new_password": "my own passphrase"})
    assert r.status_code == 200, r.get_json()
    assert c.get("/console").status_code == 200
    assert "console-header" in route(c, "/console").get_data(as_text=True)


def test_a_password_page_next_never_leaves_the_server_or_loops(world):
    _user(world, "newbie2", "one-time-pass-2")
    c, _ = _signed_in(world, "newbie2", "one-time-pass-2")
    for nxt, want in (("//evil.example/x", '"data-next": "/"'), ("/password?next=/x", '"data-next": "/"'),
                      ("/wall", '"data-next": "/wall"')):
        text = json.dumps(route(c, "/password", "?next=" + nxt).get_json(), ensure_ascii=False)
        assert want in text, nxt


def test_an_unknown_path_is_a_404_page_in_the_product_s_style(world):
    anon, admin = world.client(None), world.client("admin")
    for client in (anon, admin):
        r = client.get("/no/such/page")
        assert r.status_code == 404 and r.mimetype == "text/html"
    assert admin.get("/console").status_code == 200 and admin.get("/").status_code == 200
    assert admin.get("/_dash-layout").status_code == 200  # Dash's own routes are not pages
    zh = json.dumps(route(anon, "/no/such/page").get_json(), ensure_ascii=False)
    en = json.dumps(route(anon, "/no/such/page", "?lang=en").get_json(), ensure_ascii=False)
    assert "页面不存在" in zh and "/no/such/page" in zh and "返回首页" in zh
    assert "Page not found" in en and "Back to the start page" in en and "页面不存在" not in en
    assert "gc-notfound" in zh


def test_the_polling_wall_is_not_served_in_production(world):
    prod = SimpleNamespace(settings=SimpleNamespace(production=True))
    dev = SimpleNamespace(settings=SimpleNamespace(production=False))
    assert page_module("/wall-poll", prod) is None and page_module("/wall-poll", dev) is PAGES["/wall-poll"]
    assert page_module("/wall", prod) is PAGES["/wall"]
    display = world.client("display")
    assert display.get("/wall-poll").status_code == 200
    world.services.settings = world.services.settings.with_(production=True)
    try:
        assert display.get("/wall-poll").status_code == 404
        assert "页面不存在" in json.dumps(route(display, "/wall-poll").get_json(), ensure_ascii=False)
        assert display.get("/wall").status_code == 200
    finally:
        world.services.settings = world.services.settings.with_(production=False)


def test_a_display_token_comes_with_its_kiosk_url_and_qr_code_once(world):
    admin = world.client("admin")
    r = admin.post("/api/v1/api-keys", json={"name": "hall wall", "role": "display"})
    assert r.status_code == 201
    out = r.get_json()
    assert out["kiosk_url"] == "http://localhost/wall?display_token=" + out["key"]
    assert out["qr_svg"].startswith("<svg") and "<path" in out["qr_svg"]
    # a different URL makes a different code (the code encodes the URL, not a constant picture)
    other = admin.post("/api/v1/api-keys", json={"name": "hall wall 2", "role": "display"}).get_json()
    assert other["qr_svg"] != out["qr_svg"]
    # the list never shows a key again; an integration key has no kiosk URL
    listed = [k for k in admin.get("/api/v1/api-keys").get_json()["keys"] if k["id"] == out["id"]][0]
    assert "key" not in listed and "qr_svg" not in listed and "kiosk_url" not in listed
    integ = admin.post("/api/v1/api-keys", json={"name": "gis", "role": "integration"}).get_json()
    assert "kiosk_url" not in integ and "qr_svg" not in integ
    # the kiosk URL signs a screen in (then is spent into a cookie and a clean URL)
    kiosk = world.app.test_client().get("/wall?display_token=" + out["key"])
    assert kiosk.status_code == 302 and kiosk.headers["Location"] == "/wall"


def test_a_community_admin_sees_and_manages_only_its_community(world):
    ca, cb = world.ids["community_a"], world.ids["community_b"]
    with world.services.db.write() as s:
        _, key_a = create_api_key(s, name="admin-a", role="admin", community_id=ca)
        b_key, _ = create_api_key(s, name="wall-b", role="display", community_id=cb)
        b_key_id = b_key.id
    uid_a = _user(world, "disp-a", "a long password 1", community_id=ca)
    uid_b = _user(world, "disp-b", "a long password 1", community_id=cb)
    a = world.app.test_client()
    a.environ_base["HTTP_X_API_KEY"] = key_a
    users = {u["username"] for u in a.get("/api/v1/users").get_json()["users"]}
    assert "disp-a" in users and "disp-b" not in users and "admin" not in users
    keys = {k["name"] for k in a.get("/api/v1/api-keys").get_json()["keys"]}
    assert "admin-a" in keys and "wall-b" not in keys
    # acting on the other community: as if it did not exist
    assert a.patch(f"/api/v1/users/{uid_b}", json={"active": False}).status_code == 404
    assert a.patch(f"/api/v1/users/{uid_b}", json={"password": "another long one 2"}).status_code == 404
    assert a.delete(f"/api/v1/api-keys/{b_key_id}").status_code == 404
    r = a.patch(f"/api/v1/users/{uid_a}", json={"community_id": cb})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id"
    with world.services.db.read() as s:
        assert s.get(User, uid_b).active and s.get(User, uid_a).community_id == ca
    # its own: allowed
    assert a.patch(f"/api/v1/users/{uid_a}", json={"active": False}).get_json()["active"] is False
    # the /admin page it gets is scoped to its community (its texts in the page's language)
    page = json.dumps(route(a, "/admin", "?lang=en").get_json(), ensure_ascii=False)
    assert f'\\"community_id\\": {ca}' in page and f"Community {ca}" in page and "Administration" in page
    # a dispatcher may not open /admin at all
    assert "console-header" not in json.dumps(route(world.client("dispatcher"), "/admin").get_json())
    assert "403" in json.dumps(route(world.client("dispatcher"), "/admin").get_json())
