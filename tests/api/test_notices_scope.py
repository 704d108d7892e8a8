"""Grid notices over HTTP and the residents' live channel: who may publish where (a worker to her grids only, a
community's user to its community only), what a grid's residents' page shows (its own, its community's and the
street's live notices, urgent first; never expired or withdrawn ones), read counts per grid that a stranger cannot
inflate cheaply, the picture, and the anonymous resident socket that hears its own grid's notices and nothing else.

District (tests/utils/factories.make_district): grids G00…G22; community 1 is the left column (G00, G10, G20),
community 2 the rest; worker W1 serves G00, worker W2 serves G11."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard.resident_live import make_ticket
from dashboard.timeutil import SHANGHAI, UTC
from tests.api.conftest import jpeg_bytes, make_key

T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, pinned


@pytest.fixture
def world(district):
    app, services, w = district
    services.clock = lambda: T0
    g = w["grid_ids"]
    keys = {"w1": make_key(services, "worker", worker_id=w["worker_ids"][0]),
            "w2": make_key(services, "worker", worker_id=w["worker_ids"][1]),
            "street": make_key(services, "dispatcher"),
            "c1": make_key(services, "dispatcher", community_id=w["community_ids"][0]),
            "admin": make_key(services, "admin"), "leader": make_key(services, "leader")}
    return app, services, w, g, keys


def post(app, key, body, path="/api/v1/notices"):
    return app.test_client().post(path, json=body, headers={"X-API-Key": key})


def poster_g(app, grid_id) -> str:
    """The g= of the grid's poster link (what /r carries and sends back)."""
    from dashboard.models import Grid
    from dashboard.services.residents import grid_link_param

    with app.extensions["gridcommand"].db.read() as s:
        grid = s.get(Grid, grid_id)
    return grid_link_param(app.config["SECRET_KEY"], grid.code) if grid else ""


def page(app, grid_id, addr="10.0.0.1", **q):
    """The residents' page of ``grid_id`` asking for its notices, with its poster link unless ``g`` is given."""
    q.setdefault("g", poster_g(app, grid_id))
    return app.test_client().get(f"/api/v1/r/grids/{grid_id}/notices", query_string=q,
                                 environ_base={"REMOTE_ADDR": addr})


def titles(app, grid_id, **kw) -> list[str]:
    r = page(app, grid_id, **kw)
    assert r.status_code == 200, r.get_json()
    return [n["title"] for n in r.get_json()["items"]]


def test_a_worker_publishes_to_her_grids_only(world):
    app, _, w, g, keys = world
    r = post(app, keys["w1"], {"scope": "grid", "title": "楼道清理", "grid_ids": [g[4]]})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "grid_ids"
    r = post(app, keys["w1"], {"scope": "community", "community_id": w["community_ids"][0], "title": "x"})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "scope"
    r = post(app, keys["w1"], {"scope": "street", "title": "x"})
    assert r.status_code == 403
    r = post(app, keys["w1"], {"scope": "grid", "title": "楼道清理", "body": "周六上午"})  # default: all her grids
    assert r.status_code == 201, r.get_json()
    n = r.get_json()
    assert n["grid_ids"] == [g[0]] and n["community_id"] == w["community_ids"][0] and n["state"] == "live"
    assert [x["grid_id"] for x in n["reads_by_grid"]] == [g[0]]
    assert titles(app, g[0]) == ["楼道清理"] and titles(app, g[4]) == [] and titles(app, g[3]) == []


def test_the_center_publishes_to_a_community_or_the_street_within_its_jurisdiction(world):
    app, _, w, g, keys = world
    c1, c2 = w["community_ids"]
    r = post(app, keys["c1"], {"scope": "community", "community_id": c2, "title": "x"})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id"
    r = post(app, keys["c1"], {"scope": "street", "title": "x"})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "scope"
    r = post(app, keys["street"], {"scope": "grid", "grid_ids": [g[0]], "title": "x"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "scope"
    r = post(app, keys["street"], {"scope": "community", "title": "x"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "community_id"
    assert post(app, keys["leader"], {"scope": "street", "title": "x"}).status_code == 403  # leaders read only
    assert post(app, keys["c1"], {"scope": "community", "community_id": c1, "title": "一社区通知"}).status_code == 201
    assert post(app, keys["street"], {"scope": "street", "title": "街道通知"}).status_code == 201
    assert titles(app, g[0]) == ["街道通知", "一社区通知"]  # newest first
    assert titles(app, g[4]) == ["街道通知"]
    # the community's user lists its own and the street's; another community's is a 404 to it
    r = post(app, keys["street"], {"scope": "community", "community_id": c2, "title": "二社区通知"})
    other = r.get_json()["id"]
    listed = [n["title"] for n in app.test_client().get("/api/v1/notices", headers={"X-API-Key": keys["c1"]})
              .get_json()["items"]]
    assert listed == ["街道通知", "一社区通知"]
    assert app.test_client().get(f"/api/v1/notices/{other}", headers={"X-API-Key": keys["c1"]}).status_code == 404
    r = app.test_client().post(f"/api/v1/notices/{other}/withdraw", headers={"X-API-Key": keys["c1"]})
    assert r.status_code == 404


def test_bad_input_names_its_field(world):
    app, _, _, _, keys = world
    cases = [({"scope": "grid"}, "title"), ({"scope": "planet", "title": "x"}, "scope"),
             ({"scope": "grid", "title": "x" * 81}, "title"), ({"scope": "grid", "title": "x", "urgent": "yes"}, "urgent"),
             ({"scope": "grid", "title": "x", "valid_until": "tomorrow"}, "valid_until"),
             ({"scope": "grid", "title": "x", "picture": "../../etc/passwd"}, "picture"),
             ({"scope": "grid", "title": "x", "extra": 1}, "extra")]
    for body, field in cases:
        r = post(app, keys["w1"], body)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, (body, r.get_json())


def test_expiry_and_withdrawal(world):
    app, services, w, g, keys = world
    past = (T0 - timedelta(minutes=1)).astimezone(SHANGHAI).replace(tzinfo=None).isoformat()
    r = post(app, keys["w1"], {"scope": "grid", "title": "x", "valid_until": past})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "valid_until"
    r = post(app, keys["w1"], {"scope": "grid", "title": "x", "valid_until": (T0 + timedelta(days=400)).isoformat()})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "valid_until"
    # valid until 11:00 Shanghai (no zone given: local time)
    r = post(app, keys["w1"], {"scope": "grid", "title": "上午停电", "valid_until": "2026-12-07T11:00:00"})
    assert r.status_code == 201 and r.get_json()["valid_until"] == "2026-12-07T11:00:00+08:00"
    short = r.get_json()["id"]
    long_ = post(app, keys["w1"], {"scope": "grid", "title": "本周垃圾分类"}).get_json()["id"]
    assert titles(app, g[0]) == ["本周垃圾分类", "上午停电"]
    services.clock = lambda: T0 + timedelta(hours=1, minutes=31)  # 11:01
    assert titles(app, g[0]) == ["本周垃圾分类"]
    mine = {n["id"]: n["state"] for n in app.test_client().get("/api/v1/notices", headers={"X-API-Key": keys["w1"]})
            .get_json()["items"]}
    assert mine == {short: "expired", long_: "live"}
    live = app.test_client().get("/api/v1/notices?state=live", headers={"X-API-Key": keys["w1"]}).get_json()
    assert [n["id"] for n in live["items"]] == [long_]
    # only the author withdraws a worker's notice
    assert app.test_client().post(f"/api/v1/notices/{long_}/withdraw", headers={"X-API-Key": keys["w2"]}) \
        .status_code in (403, 404)
    r = app.test_client().post(f"/api/v1/notices/{long_}/withdraw", headers={"X-API-Key": keys["w1"]})
    assert r.status_code == 200 and r.get_json()["state"] == "withdrawn"
    assert titles(app, g[0]) == []


def test_urgent_first_then_newest(world):
    app, services, _, g, keys = world
    for i, (title, urgent) in enumerate([("旧的紧急", True), ("普通一", False), ("普通二", False)]):
        services.clock = lambda i=i: T0 + timedelta(minutes=i)
        assert post(app, keys["w1"], {"scope": "grid", "title": title, "urgent": urgent}).status_code == 201
    items = page(app, g[0]).get_json()["items"]
    assert [(n["title"], n["urgent"]) for n in items] == [("旧的紧急", True), ("普通二", False), ("普通一", False)]
    assert set(items[0]) == {"id", "title", "body", "urgent", "picture_url", "valid_until", "created_at"}  # no author


def test_reads_count_once_per_address_grid_and_hour(world):
    app, services, w, g, keys = world
    n = post(app, keys["street"], {"scope": "community", "community_id": w["community_ids"][0], "title": "通知"})
    nid = n.get_json()["id"]
    for _ in range(5):
        page(app, g[0], addr="10.0.0.1")  # one visitor reloading: one open
    page(app, g[0], addr="10.0.0.2")
    page(app, g[3], addr="10.0.0.1")      # the same visitor on another grid's page: that grid's open
    page(app, g[0], addr="10.0.0.3", count="0")  # the page asking again after a reconnect: not an open
    # a stranger walking grid numbers without the posters' links reads the public notices but counts nothing
    assert page(app, g[0], addr="10.0.0.4", g="").status_code == 200
    page(app, g[0], addr="10.0.0.5", g=poster_g(app, g[3]))  # another grid's link
    detail = app.test_client().get(f"/api/v1/notices/{nid}", headers={"X-API-Key": keys["street"]}).get_json()
    per_grid = {x["grid_id"]: x["reads"] for x in detail["reads_by_grid"]}
    assert per_grid == {g[0]: 2, g[3]: 1, g[6]: 0} and detail["reads"] == 3
    listed = app.test_client().get("/api/v1/notices", headers={"X-API-Key": keys["leader"]}).get_json()["items"]
    assert listed[0]["reads"] == 3
    # a street notice's opens, to a community's user: its own grids' only
    street = post(app, keys["street"], {"scope": "street", "title": "全街道"}).get_json()["id"]
    page(app, g[4], addr="10.0.0.9")  # community 2
    page(app, g[6], addr="10.0.0.9")  # community 1
    mine = {n["id"]: n["reads"] for n in app.test_client().get("/api/v1/notices", headers={"X-API-Key": keys["c1"]})
            .get_json()["items"]}
    assert mine[street] == 1
    detail = app.test_client().get(f"/api/v1/notices/{street}", headers={"X-API-Key": keys["c1"]}).get_json()
    assert detail["reads"] == 1 and {x["grid_id"] for x in detail["reads_by_grid"]} == {g[0], g[3], g[6]}


def test_the_residents_page_is_rate_limited_per_address(district, tmp_path):
    app, services, w = district
    from dashboard.api import notices as api

    app.extensions.pop(api.LIMITS_KEY, None)
    services.settings = services.settings.with_(rate_notices="3/60")
    codes = [page(app, w["grid_ids"][0], addr="10.9.9.9").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert page(app, w["grid_ids"][0], addr="10.9.9.8").status_code == 200
    assert page(app, 999999).status_code == 404


def test_a_picture_is_checked_like_a_photo_and_served_while_live(world):
    app, services, _, g, keys = world
    c = app.test_client()
    r = c.post("/api/v1/photos", headers={"X-API-Key": keys["w1"]}, data={"photo": (io_jpeg(), "a.jpg")},
               content_type="multipart/form-data")
    token = r.get_json()["token"]
    bad = c.post("/api/v1/photos", headers={"X-API-Key": keys["w1"]},
                 data={"photo": (__import__("io").BytesIO(b"not an image"), "a.jpg")},
                 content_type="multipart/form-data")
    assert bad.status_code == 415
    r = post(app, keys["w1"], {"scope": "grid", "title": "有图", "picture": token})
    assert r.status_code == 201
    n = r.get_json()
    assert n["picture_url"] == f"/api/v1/r/notices/{n['id']}/picture"
    pic = app.test_client().get(n["picture_url"])
    assert pic.status_code == 200 and pic.mimetype == "image/jpeg" and pic.data[:3] == b"\xff\xd8\xff"
    assert app.test_client().get(n["picture_url"] + "?thumb=1").status_code == 200
    assert post(app, keys["w1"], {"scope": "grid", "title": "again", "picture": token}).status_code == 422  # spent
    app.test_client().post(f"/api/v1/notices/{n['id']}/withdraw", headers={"X-API-Key": keys["w1"]})
    assert app.test_client().get(n["picture_url"]).status_code == 404


def io_jpeg():
    import io

    return io.BytesIO(jpeg_bytes())


# -- the residents' live channel -----------------------------------------------------------------------------------

def resident_socket(app, services, grid_id: int | None, ticket: str | None = None):
    if ticket is None and grid_id is not None:
        ticket = make_ticket(app.secret_key, grid_id)
    return services.socketio.test_client(app, query_string=f"resident={ticket}")


def notices_heard(client) -> list[dict]:
    return [m["args"][0] for m in client.get_received() if m["name"] == "notice"]


def test_a_resident_socket_hears_its_grids_notices_and_nothing_else(world):
    app, services, w, g, keys = world
    mine, other = resident_socket(app, services, g[0]), resident_socket(app, services, g[4])
    assert mine.is_connected() and other.is_connected()
    r = post(app, keys["w1"], {"scope": "grid", "title": "紧急：燃气检修", "urgent": True})
    assert r.status_code == 201
    heard = notices_heard(mine)
    assert [(m["type"], m["notice"]["title"], m["notice"]["urgent"]) for m in heard] == \
        [("published", "紧急：燃气检修", True)]
    assert notices_heard(other) == []
    post(app, keys["street"], {"scope": "street", "title": "全街道"})
    assert [m["notice"]["title"] for m in notices_heard(mine)] == ["全街道"]
    assert [m["notice"]["title"] for m in notices_heard(other)] == ["全街道"]
    app.test_client().post(f"/api/v1/notices/{r.get_json()['id']}/withdraw", headers={"X-API-Key": keys["w1"]})
    assert notices_heard(mine) == [{"type": "withdrawn", "id": r.get_json()["id"]}]
    # a resident socket is in no street, community or worker room: a case event never reaches it
    from dashboard import events

    with services.db.write() as s:
        events.record(s, "probe", {"tag": "street"}, community_id=None)
    assert [m for m in mine.get_received() if m["name"] == "events"] == []
    # and it may not act: joining a worker's room is refused
    ack = mine.emit("join_worker", {"worker_id": w["worker_ids"][0]}, callback=True)
    assert ack["ok"] is False
    mine.disconnect()
    other.disconnect()


def test_a_bad_or_expired_ticket_is_refused(world):
    app, services, _, g, _ = world
    assert not resident_socket(app, services, None, ticket="forged").is_connected()
    from itsdangerous import URLSafeTimedSerializer

    from dashboard.resident_live import SALT

    other_key = URLSafeTimedSerializer("another-secret", salt=SALT).dumps({"g": g[0]})
    assert not resident_socket(app, services, None, ticket=other_key).is_connected()
    import time

    from dashboard import resident_live

    real = time.time
    try:
        time.time = lambda: real() - resident_live.TICKET_MAX_AGE_S - 5  # a ticket made 10 minutes ago
        old = make_ticket(app.secret_key, g[0])
    finally:
        time.time = real
    assert resident_live.ticket_grid(app.secret_key, old) is None
    assert not resident_socket(app, services, None, ticket=old).is_connected()


def test_the_handshake_gate_admits_a_ticket_and_nothing_else_anonymous(world):
    """Through the real WSGI gate (not the test client's shortcut): a ticket opens the channel, no ticket is a 401."""
    app, _, _, g, _ = world
    from dashboard.resident_live import TICKET_PARAM

    c = app.test_client()
    ok = c.get(f"/socket.io/?EIO=4&transport=polling&{TICKET_PARAM}={make_ticket(app.secret_key, g[0])}",
               headers={"Origin": "http://localhost"})
    assert ok.status_code == 200 and ok.data.startswith(b"0{")
    assert c.get(f"/socket.io/?EIO=4&transport=polling&{TICKET_PARAM}=forged").status_code == 401
    settings = app.extensions["gridcommand"].settings
    if not (settings.demo and not settings.production):  # the demo operator is admitted from this machine
        assert c.get("/socket.io/?EIO=4&transport=polling").status_code == 401


def test_a_notices_text_is_masked_like_every_screens_and_its_author_too(world):
    app, _, _, g, keys = world
    r = post(app, keys["w1"], {"scope": "grid", "title": "寻物：张三丰的钱包", "body": "拾到者请联系 13912345678"})
    assert r.status_code == 201
    n = r.get_json()
    assert "13912345678" not in n["body"] and "139****5678" in n["body"]
    assert n["author"] != "test-worker" and n["author"].startswith("t")  # masked as a name is
    (pub,) = page(app, g[0]).get_json()["items"]
    assert "13912345678" not in pub["body"] and "139****5678" in pub["body"]
