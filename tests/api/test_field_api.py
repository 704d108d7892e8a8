"""The /api/v1 field API over HTTP: cases, photos, positions, patrols, tasks, admin calls, OpenAPI."""
from __future__ import annotations

import io
import uuid

import pytest

from tests.api.conftest import jpeg_bytes, make_key


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def field(district):
    app, services, world = district
    client = app.test_client()
    wkey = make_key(services, "worker", world["worker_ids"][0])
    return client, services, world, wkey


def test_report_case_masked_and_located(field):
    client, services, world, wkey = field
    lat, lon = world["centers"][4]
    r = client.post("/api/v1/cases", json={"category_code": "0101", "description": "路边垃圾堆", "lat": lat, "lon": lon},
                    headers={**auth(wkey), "Idempotency-Key": "k-" + uuid.uuid4().hex})
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    assert c["grid_id"] == world["grid_ids"][4] and c["outside"] is False
    assert c["state"] == "reported" and c["source"] == "app"
    assert c["reporter"] == "张*"  # the worker's name is masked on the server
    assert c["timeline"][0]["action"] == "report"


def test_idempotency_header_and_body_never_duplicate(field):
    client, services, world, wkey = field
    key = "idem-" + uuid.uuid4().hex
    body = {"category_code": "0101", "lat": world["centers"][0][0], "lon": world["centers"][0][1]}
    r1 = client.post("/api/v1/cases", json=body, headers={**auth(wkey), "Idempotency-Key": key})
    r2 = client.post("/api/v1/cases", json=body, headers={**auth(wkey), "Idempotency-Key": key})
    r3 = client.post("/api/v1/cases", json={**body, "idempotency_key": key}, headers=auth(wkey))
    assert (r1.status_code, r2.status_code, r3.status_code) == (201, 200, 200)
    assert r1.get_json()["id"] == r2.get_json()["id"] == r3.get_json()["id"]
    listed = client.get("/api/v1/cases?page_size=100", headers=auth(wkey)).get_json()
    assert listed["total"] == 1
    r4 = client.post("/api/v1/cases", json={**body, "idempotency_key": "other-" + key},
                     headers={**auth(wkey), "Idempotency-Key": key})
    assert r4.status_code == 422 and r4.get_json()["error"]["field"] == "idempotency_key"


def test_onsite_closes_at_once(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/cases", json={"category_code": "0101", "onsite": True, "lat": world["centers"][0][0],
                                           "lon": world["centers"][0][1]}, headers=auth(wkey))
    assert r.status_code == 201
    assert r.get_json()["state"] == "closed" and r.get_json()["handled_onsite"] is True


def test_outside_point_kept_and_flagged(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/cases", json={"category_code": "0101", "lat": 39.9, "lon": 116.4}, headers=auth(wkey))
    assert r.status_code == 201
    assert r.get_json()["outside"] is True and r.get_json()["grid_id"] is None


def test_gcj02_input_is_stored_as_wgs84(field):
    from dashboard.geo.coords import wgs84_to_gcj02

    client, services, world, wkey = field
    lat, lon = world["centers"][4]
    glat, glon = wgs84_to_gcj02(lat, lon)
    r = client.post("/api/v1/cases", json={"category_code": "0101", "lat": float(glat), "lon": float(glon),
                                           "crs": "gcj02"}, headers=auth(wkey))
    c = r.get_json()
    assert abs(c["lat"] - lat) < 1e-5 and abs(c["lon"] - lon) < 1e-5 and c["grid_id"] == world["grid_ids"][4]


@pytest.mark.parametrize("body,field_name,status", [
    ({"description": "no category"}, "category_code", 422),
    ({"category_code": "9999"}, "category_code", 422),
    ({"category_code": "0101", "lat": 91, "lon": 108.9}, "lat", 422),
    ({"category_code": "0101", "lat": 34.2, "lon": 181}, "lon", 422),
    ({"category_code": "0101", "lat": "north", "lon": 108.9}, "lat", 422),
    ({"category_code": "0101", "lat": 34.2}, "body", 422),
    ({"category_code": "0101", "onsite": "maybe"}, "onsite", 422),
    ({"category_code": 101}, "category_code", 422),
    ({"category_code": "0101", "colour": "red"}, "colour", 422),
    ({"category_code": "0101", "crs": "mars"}, "crs", 422),
    ({"category_code": "0101", "photos": ["../../etc/passwd"]}, "photos", 422),
    ({"category_code": "0101", "photos": ["u_" + "0" * 32]}, "photos", 422),
])
def test_bad_reports_name_the_field_and_change_nothing(field, body, field_name, status):
    client, services, world, wkey = field
    r = client.post("/api/v1/cases", json=body, headers=auth(wkey))
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["field"] == field_name
    assert client.get("/api/v1/cases", headers=auth(wkey)).get_json()["total"] == 0


def test_not_json_and_no_credentials(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/cases", data="category_code=0101", headers=auth(wkey),
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"
    r = client.post("/api/v1/cases", json=[1, 2], headers=auth(wkey))
    assert r.status_code == 422
    r = client.post("/api/v1/cases", json={"category_code": "0101"}, headers=auth("gc_wrong"))
    assert r.status_code == 401
    r = client.post("/api/v1/cases", json={"category_code": "0101"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 401


def test_worker_cannot_report_for_someone_else(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/cases", json={"category_code": "0101", "worker_id": world["worker_ids"][1]},
                    headers=auth(wkey))
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "worker_id"


def test_list_filters_and_pagination(field):
    client, services, world, wkey = field
    ikey = make_key(services, "integration")
    for i in range(5):
        lat, lon = world["centers"][i % 2]
        client.post("/api/v1/cases", json={"category_code": "0101", "lat": lat, "lon": lon, "onsite": i == 0},
                    headers=auth(ikey))
    page = client.get("/api/v1/cases?page=1&page_size=2", headers=auth(ikey)).get_json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["page_size"] == 2
    page3 = client.get("/api/v1/cases?page=3&page_size=2", headers=auth(ikey)).get_json()
    assert len(page3["items"]) == 1
    closed = client.get("/api/v1/cases?state=closed", headers=auth(ikey)).get_json()
    assert closed["total"] == 1
    g1 = client.get(f"/api/v1/cases?grid={world['grid_codes'][1]}", headers=auth(ikey)).get_json()
    assert g1["total"] == 2
    comm = client.get(f"/api/v1/cases?community={world['community_ids'][1]}", headers=auth(ikey)).get_json()
    assert comm["total"] == 2  # grid index 1 is in the second community
    future = client.get("/api/v1/cases?since=2099-01-01T00:00:00Z", headers=auth(ikey)).get_json()
    assert future["total"] == 0
    assert client.get("/api/v1/cases?since=yesterday", headers=auth(ikey)).status_code == 400
    assert client.get("/api/v1/cases?page=0", headers=auth(ikey)).get_json()["error"]["field"] == "page"
    assert client.get("/api/v1/cases?grid=NOPE", headers=auth(ikey)).status_code == 400
    one = page["items"][0]
    detail = client.get(f"/api/v1/cases/{one['id']}", headers=auth(ikey)).get_json()
    assert detail["code"] == one["code"] and "timeline" in detail
    assert client.get("/api/v1/cases/999999", headers=auth(ikey)).status_code == 404


def test_photo_upload_attach_fetch(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/photos", data={"photo": (io.BytesIO(jpeg_bytes((3000, 2000))), "a.jpg")},
                    headers=auth(wkey), content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    assert r.get_json()["width"] == 2048  # re-encoded to at most 2048 px
    c = client.post("/api/v1/cases", json={"category_code": "0101", "photos": [token]}, headers=auth(wkey)).get_json()
    assert len(c["photo_list"]) == 1 and c["photo_list"][0]["stage"] == "before"
    pid = c["photo_list"][0]["id"]
    img = client.get(f"/api/v1/photos/{pid}", headers=auth(wkey))
    thumb = client.get(f"/api/v1/photos/{pid}/thumb", headers=auth(wkey))
    assert img.status_code == 200 and img.data[:3] == b"\xff\xd8\xff"
    assert thumb.status_code == 200 and len(thumb.data) < len(img.data)
    # the same token cannot be used twice
    again = client.post("/api/v1/cases", json={"category_code": "0101", "photos": [token]}, headers=auth(wkey))
    assert again.status_code == 422 and again.get_json()["error"]["field"] == "photos"
    # an 'after' photo straight onto the case
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (40, 40), (0, 200, 0)).save(png, "PNG")
    r = client.post(f"/api/v1/cases/{c['id']}/photos", data={"photo": (io.BytesIO(png.getvalue()), "b.png"),
                                                              "stage": "after"},
                    headers=auth(wkey), content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["stage"] == "after"
    detail = client.get(f"/api/v1/cases/{c['id']}", headers=auth(wkey)).get_json()
    assert [p["stage"] for p in detail["photo_list"]] == ["before", "after"]


@pytest.mark.parametrize("payload,status", [
    (b"GIF89a" + b"\0" * 100, 415),                 # a type we do not take
    (b"<html>not an image</html>", 415),           # text with an image name
    (b"\xff\xd8\xff\xe0" + b"\0" * 50, 415),        # JPEG magic, broken body
    (b"", 422),
])
def test_bad_uploads_refused(field, payload, status):
    client, services, world, wkey = field
    r = client.post("/api/v1/photos", data={"photo": (io.BytesIO(payload), "x.jpg")}, headers=auth(wkey),
                    content_type="multipart/form-data")
    assert r.status_code == status and r.get_json()["error"]["field"] == "photo"


def test_oversized_photo_refused(field):
    client, services, world, wkey = field
    big = b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024 + 10)
    r = client.post("/api/v1/photos", data={"photo": (io.BytesIO(big), "big.jpg")}, headers=auth(wkey),
                    content_type="multipart/form-data")
    assert r.status_code == 413 and r.get_json()["error"]["field"] == "photo"
    huge = b"\xff\xd8\xff\xe0" + b"\0" * (17 * 1024 * 1024)  # beyond the request limit itself
    r = client.post("/api/v1/photos", data={"photo": (io.BytesIO(huge), "huge.jpg")}, headers=auth(wkey),
                    content_type="multipart/form-data")
    assert r.status_code == 413
    missing = client.post("/api/v1/photos", data={}, headers=auth(wkey), content_type="multipart/form-data")
    assert missing.status_code == 400
    wrong_case = client.post("/api/v1/cases/424242/photos", data={"photo": (io.BytesIO(jpeg_bytes()), "a.jpg")},
                             headers=auth(wkey), content_type="multipart/form-data")
    assert wrong_case.status_code == 404


# ---------------------------------------------------------------- positions, patrols, tasks, admin
def test_position_batch_counts_dedupe_late_and_outside(field):
    client, services, world, wkey = field
    lat, lon = world["centers"][0]
    fixes = [{"t": 1764380000 + i * 10, "lat": lat + i * 1e-5, "lon": lon, "speed": 1.2, "battery": 80}
             for i in range(5)]
    r = client.post("/api/v1/positions", json={"fixes": fixes}, headers=auth(wkey))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["accepted"] == 5 and r.get_json()["duplicates"] == 0
    r = client.post("/api/v1/positions", json={"fixes": fixes[:2] + [
        {"t": "2025-11-29T01:33:00Z", "lat": lat, "lon": lon},          # late (older than the marker)
        {"t": 1764380100000, "lat": 39.9, "lon": 116.4}]}, headers=auth(wkey))  # ms epoch, outside the street
    body = r.get_json()
    assert body["accepted"] == 2 and body["duplicates"] == 2 and body["outside"] == 1
    from dashboard.models import Position, Worker

    with services.db.read() as s:
        w = s.get(Worker, world["worker_ids"][0])
        assert w.last_lat == pytest.approx(39.9)  # the newest fix moved the marker, the late one did not
        outside = s.query(Position).filter(Position.outside.is_(True)).count()
        assert outside == 1 and s.query(Position).count() == 7


@pytest.mark.parametrize("body,field_name", [
    ({"fixes": []}, "fixes"),
    ({"fixes": [{"lat": 95, "lon": 1}]}, "fixes.0.lat"),
    ({"fixes": [{"lat": 34, "lon": -200}]}, "fixes.0.lon"),
    ({"fixes": [{"lat": "x", "lon": 1}]}, "fixes.0.lat"),
    ({"fixes": [{"lon": 1}]}, "fixes.0.lat"),
    ({"fixes": [{"lat": 34, "lon": 108, "t": "2025-01-01T00:00:00"}]}, "fixes.t"),
    ({"fixes": [{"lat": 34, "lon": 108, "battery": 150}]}, "fixes.0.battery"),
    ({"fixes": "many"}, "fixes"),
])
def test_position_batch_bad_input(field, body, field_name):
    client, services, world, wkey = field
    r = client.post("/api/v1/positions", json=body, headers=auth(wkey))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field_name, r.get_json()


def test_position_batch_by_device_for_integrations(field):
    client, services, world, wkey = field
    ikey = make_key(services, "integration")
    fix = {"fixes": [{"lat": world["centers"][4][0], "lon": world["centers"][4][1]}]}
    assert client.post("/api/v1/positions", json={**fix, "device_id": "DEV2"}, headers=auth(ikey)).status_code == 200
    r = client.post("/api/v1/positions", json={**fix, "device_id": "NOPE"}, headers=auth(ikey))
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "device_id"
    r = client.post("/api/v1/positions", json=fix, headers=auth(ikey))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "device_id"


def test_patrol_start_stop(field):
    client, services, world, wkey = field
    r = client.post("/api/v1/patrols/start", json={}, headers=auth(wkey))
    assert r.status_code == 200 and r.get_json()["state"] == "patrolling"
    lat, lon = world["centers"][0]
    client.post("/api/v1/positions", json={"fixes": [{"lat": lat, "lon": lon}]}, headers=auth(wkey))
    r = client.post("/api/v1/patrols/stop", headers=auth(wkey))
    assert r.status_code == 200 and r.get_json()["patrol"]["grids_covered"] == [world["grid_ids"][0]]


def test_my_tasks_acknowledge_arrive_finish(field):
    from dashboard.models import Case
    from dashboard.services.cases import transition

    client, services, world, wkey = field
    ikey = make_key(services, "integration")
    c = client.post("/api/v1/cases", json={"category_code": "0401", "lat": world["centers"][0][0],
                                           "lon": world["centers"][0][1]}, headers=auth(ikey)).get_json()
    with services.db.write() as s:
        transition(s, s.get(Case, c["id"]), "dispatch", actor="调度员", worker_id=world["worker_ids"][0])
    tasks = client.get("/api/v1/me/tasks", headers=auth(wkey)).get_json()
    assert [t["id"] for t in tasks["items"]] == [c["id"]] and tasks["items"][0]["dispatch"]["state"] == "sent"
    other = make_key(services, "worker", world["worker_ids"][1])
    assert client.post(f"/api/v1/me/tasks/{c['id']}/acknowledge", headers=auth(other)).status_code == 404
    assert client.post(f"/api/v1/me/tasks/{c['id']}/arrive", headers=auth(wkey)).status_code == 409
    assert client.post(f"/api/v1/me/tasks/{c['id']}/acknowledge", headers=auth(wkey)).get_json()["state"] == "handling"
    assert client.post(f"/api/v1/me/tasks/{c['id']}/arrive", headers=auth(wkey)).status_code == 200
    assert client.post(f"/api/v1/me/tasks/{c['id']}/finish", json={}, headers=auth(wkey)).status_code == 422
    assert client.post(f"/api/v1/me/tasks/{c['id']}/explode", headers=auth(wkey)).status_code == 404
    tok = client.post("/api/v1/photos", data={"photo": (io.BytesIO(jpeg_bytes()), "a.jpg")}, headers=auth(wkey),
                      content_type="multipart/form-data").get_json()["token"]
    done = client.post(f"/api/v1/me/tasks/{c['id']}/finish", json={"note": "已清理", "photos": [tok]},
                       headers=auth(wkey)).get_json()
    assert done["state"] == "feedback" and done["photo_list"][-1]["stage"] == "after"
    assert client.get("/api/v1/me/tasks", headers=auth(wkey)).get_json()["total"] == 0
    # the demo operator has no worker of its own
    assert client.get("/api/v1/me/tasks").status_code == 403


def test_me_categories_grids(field):
    client, services, world, wkey = field
    me = client.get("/api/v1/me", headers=auth(wkey)).get_json()
    # her own name on her own phone (issue 27 item 6); the phone number stays masked, as everywhere
    assert me["name"] == "张三" and me["phone"] == "138****5678" and me["grid"]["code"] == world["grid_codes"][0]
    cats = client.get("/api/v1/categories/tree", headers=auth(wkey)).get_json()
    assert [m["code"] for m in cats] == ["01", "04", "06"] and cats[0]["children"][0]["code"] == "0101"
    fc = client.get("/api/v1/grids", headers=auth(wkey)).get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 9
    one = client.get(f"/api/v1/grids?community_id={world['community_ids'][0]}", headers=auth(wkey)).get_json()
    assert len(one["features"]) == 3
    assert client.get("/api/v1/grids?community_id=x", headers=auth(wkey)).status_code == 400


def test_workers_admin(field):
    client, services, world, wkey = field
    ikey = make_key(services, "integration")
    assert client.get("/api/v1/workers", headers=auth(wkey)).status_code == 403  # not for workers
    r = client.post("/api/v1/workers", json={"code": "W9", "name": "王五", "phone": "13700001111",
                                             "device_id": "DEV9", "grid_code": world["grid_codes"][2]},
                    headers=auth(ikey))
    assert r.status_code == 201 and r.get_json()["name"] == "王*" and r.get_json()["device_id"] == "DEV9"
    assert client.post("/api/v1/workers", json={"code": "W9", "name": "x"}, headers=auth(ikey)).status_code == 409
    r = client.post("/api/v1/workers", json={"code": "W10", "name": "x", "device_id": "DEV1"}, headers=auth(ikey))
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "device_id"
    r = client.post("/api/v1/workers", json={"code": "W11", "name": "x", "grid_code": "ZZ"}, headers=auth(ikey))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "grid_code"
    r = client.post("/api/v1/workers", json={"code": "W12", "name": "x", "phone": "call me"}, headers=auth(ikey))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "phone"
    listed = client.get("/api/v1/workers?page_size=2", headers=auth(ikey)).get_json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    assert client.get("/api/v1/workers?q=DEV9", headers=auth(ikey)).get_json()["items"][0]["code"] == "W9"
    # the new device now feeds positions
    fix = {"device_id": "DEV9", "fixes": [{"lat": world["centers"][2][0], "lon": world["centers"][2][1]}]}
    assert client.post("/api/v1/positions", json=fix, headers=auth(ikey)).get_json()["accepted"] == 1


def test_demo_worker_sign_in_and_login(field):
    client, services, world, wkey = field
    assert client.get("/api/v1/me").status_code == 403  # the demo operator is no worker
    r = client.post("/auth/demo-worker", json={"worker": "W2"})
    assert r.status_code == 200 and r.get_json()["worker_id"] == world["worker_ids"][1]
    assert client.get("/api/v1/me").get_json()["code"] == "W2"
    assert client.get("/auth/me").get_json()["role"] == "worker"
    client.post("/auth/logout")
    assert client.get("/auth/me").get_json()["via"] == "demo"
    assert client.post("/auth/demo-worker", json={"worker": "NOPE"}).status_code == 404
    remote = app_client_remote(client)
    assert remote.post("/auth/demo-worker", json={"worker": "W2"},
                       environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 401
    assert client.post("/auth/login", json={"username": "x"}).get_json()["error"]["field"] == "password"
    assert client.post("/auth/login", json={"username": "x", "password": "y"}).status_code == 401


def app_client_remote(client):
    return client.application.test_client()


def test_openapi_matches_the_server(field):
    client, services, world, wkey = field
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path, method in [("/api/v1/cases", "post"), ("/api/v1/cases", "get"), ("/api/v1/positions", "post"),
                         ("/api/v1/workers", "post"), ("/api/v1/grids", "get"), ("/api/v1/photos", "post"),
                         ("/api/v1/me/tasks/{case_id}/{action}", "post")]:
        assert method in doc["paths"][path], (path, method)
    case_in = doc["components"]["schemas"]["CaseIn"]
    assert case_in["required"] == ["category_code"]
    assert case_in["properties"]["lat"]["maximum"] == 90 and case_in["properties"]["lat"]["nullable"] is True
    assert case_in["additionalProperties"] is False
    # every documented /api/v1 path exists on the server (no phantom paths)
    rules = {r.rule.replace("<int:", "{").replace("<", "{").replace(">", "}") for r in client.application.url_map
             .iter_rules()}
    for path in doc["paths"]:
        assert path in rules, path
    # and the other way round: every route of the field, OsmAnd, Open311 and session modules is documented
    mine = ("dashboard.api.field", "dashboard.api.field_people", "dashboard.api.osmand", "dashboard.api.open311",
            "dashboard.api.session")
    app = client.application
    for r in app.url_map.iter_rules():
        fn = app.view_functions[r.endpoint]
        if getattr(fn, "__module__", "") in mine and "<path:" not in r.rule and not r.rule.endswith("/"):
            path = r.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            for m in r.methods - {"HEAD", "OPTIONS"}:
                assert m.lower() in doc["paths"].get(path, {}), (m, path)


def test_idempotency_keys_are_per_reporter(field):
    client, services, world, wkey = field
    other = make_key(services, "worker", world["worker_ids"][1])
    key = "shared-" + uuid.uuid4().hex
    a = client.post("/api/v1/cases", json={"category_code": "0101"}, headers={**auth(wkey), "Idempotency-Key": key})
    b = client.post("/api/v1/cases", json={"category_code": "0601"}, headers={**auth(other), "Idempotency-Key": key})
    assert (a.status_code, b.status_code) == (201, 201) and a.get_json()["id"] != b.get_json()["id"]
    assert b.get_json()["category_code"] == "0601"


def server_timing(r) -> dict[str, float]:
    return {name: float(dur) for name, dur in (p.strip().split(";dur=") for p in r.headers["Server-Timing"].split(","))}


def test_a_report_goes_ahead_of_background_writers_and_says_what_it_waited(field):
    """Server-Timing on an API answer: the request's time in the server and, on SQLite, its wait for the write turn.
    A report filed while position batches queue for the turn waits for the holder only, then goes first."""
    import threading
    import time

    from sqlalchemy import select

    from dashboard import events
    from dashboard.models import Event

    client, services, world, wkey = field
    lat, lon = world["centers"][2]
    body = {"category_code": "0101", "description": "井盖缺失", "lat": lat, "lon": lon}
    r = client.post("/api/v1/cases", json=body, headers={**auth(wkey), "Idempotency-Key": "k-" + uuid.uuid4().hex})
    assert r.status_code == 201
    timing = server_timing(r)
    assert timing["app"] >= timing["write-turn"] >= 0
    if not services.db.is_sqlite:
        return  # PostgreSQL has no write turns to wait for
    held = threading.Event()

    def background(name, hold):
        with services.db.write(bulk=True) as s:
            events.record(s, "batch", {"name": name})
            held.set()
            time.sleep(hold)

    first = threading.Thread(target=background, args=("holder", 0.3))
    first.start()
    held.wait(5)
    queued = [threading.Thread(target=background, args=(f"queued{i}", 0.1)) for i in (1, 2)]
    for t in queued:
        t.start()
    time.sleep(0.05)  # both batches queue behind the holder
    r = client.post("/api/v1/cases", json={**body, "description": "井盖缺失（二）"},
                    headers={**auth(wkey), "Idempotency-Key": "k-" + uuid.uuid4().hex})
    for t in [first, *queued]:
        t.join(5)
    assert r.status_code == 201
    with services.db.read() as s:
        after = [(e.type, e.payload.get("name") or e.payload["case"]["description"])
                 for e in s.scalars(select(Event).where(Event.type.in_(["batch", "case"])).order_by(Event.seq))][-4:]
    assert after == [("batch", "holder"), ("case", "井盖缺失（二）"), ("batch", "queued1"), ("batch", "queued2")]
    waited = server_timing(r)["write-turn"]
    assert waited > 150, waited  # it waited for the holder's last ~250 ms (and said so)


def test_an_api_keys_last_use_is_noted_once_a_minute(field):
    """A phone sending every few seconds must not write on every request just to move the key's stamp."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from dashboard.models import ApiKey
    from dashboard.services.apikeys import hash_key

    client, services, world, wkey = field

    def stamp():
        with services.db.read() as s:
            return s.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == hash_key(wkey)))

    assert stamp() is None
    assert client.get("/api/v1/me", headers=auth(wkey)).status_code == 200
    first = stamp()
    assert first is not None
    assert client.get("/api/v1/me", headers=auth(wkey)).status_code == 200
    assert stamp() == first  # within the minute: not written again
    with services.db.write() as s:
        s.execute(update(ApiKey).where(ApiKey.key_hash == hash_key(wkey)).values(last_used_at=first - timedelta(minutes=2)))
    assert client.get("/api/v1/me", headers=auth(wkey)).status_code == 200
    assert stamp() > first - timedelta(minutes=2)
