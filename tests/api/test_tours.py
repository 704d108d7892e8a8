"""Mouse-patrol tours over HTTP: build, generate, run, log, issue → case, coverage; cameras and streams."""
from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.models import Camera, Case, PatrolStopLog, Role
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.services.cases import CaseReport, report_case
from dashboard.timeutil import local_today
from tests.api.conftest import make_key
from tests.utils.factories import earlier_today


@pytest.fixture
def world(district):
    app, services, w = district
    g = w["grid_ids"]
    with services.db.write() as s:
        for i, (lat, lon) in enumerate(w["centers"][:3]):
            s.add(Camera(code=f"CAM{i}", name=f"摄像头{i}", grid_id=g[i], lat=lat, lon=lon, stream_url=f"sim://CAM{i}"))
        s.add(Camera(code="CAMX", name="第二个", grid_id=g[0], lat=w["centers"][0][0], lon=w["centers"][0][1],
                     stream_url="https://video.lan/hls/x.m3u8"))
        for gi, n in ((4, 3), (2, 2), (7, 1)):  # open cases: grid 4 most, then 2, then 7
            for _ in range(n):
                lat, lon = w["centers"][gi]
                report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon), locator=services.locator)
        lat, lon = w["centers"][5]  # worker 1 walked grid 5 today (through the ingest path, as phones do)
        ingest_fixes(s, [Fix(worker_id=w["worker_ids"][0], fix_time=earlier_today(m), lat=lat,
                             lon=lon + m * 1e-6) for m in range(3)], locator=services.locator)
    return app, services, w


def test_generate_by_open_cases_unpatrolled_and_community(world):
    app, _, w = world
    c = app.test_client()
    g = w["grid_ids"]
    r = c.post("/api/v1/tours/generate", json={"kind": "open_cases", "limit": 2, "dwell_s": 7})
    assert r.status_code == 201
    t = r.get_json()
    assert [s["grid_id"] for s in t["stops"]] == [g[4], g[2]] and t["stops"][0]["dwell_s"] == 7
    assert t["state"] == "draft" and t["kind"] == "open_cases"
    t = c.post("/api/v1/tours/generate", json={"kind": "unpatrolled", "limit": 20}).get_json()
    assert g[5] not in [s["grid_id"] for s in t["stops"]] and len(t["stops"]) == 8
    t = c.post("/api/v1/tours/generate", json={"kind": "community", "community_id": w["community_ids"][0]}).get_json()
    assert [s["grid_code"] for s in t["stops"]] == ["G00", "G10", "G20"]
    assert t["stops"][0]["camera_ids"] and t["stops"][0]["center"]
    assert [x["id"] for x in c.get("/api/v1/tours").get_json()["tours"]][:1] == [t["id"]]


def test_run_a_tour_of_five_stops_logs_five_entries_and_issue_opens_a_case(world):
    app, services, w = world
    c = app.test_client()
    g = w["grid_ids"]
    stops = [{"grid_id": g[i], "dwell_s": 2} for i in (0, 1, 3, 6, 8)]
    t = c.post("/api/v1/tours", json={"name": "五站巡逻", "stops": stops}).get_json()
    assert t["stops"][0]["camera_ids"] and len(t["stops"][0]["camera_ids"]) == 2  # the grid's cameras by default
    assert c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "ok"}).status_code == 409  # not started
    assert c.post(f"/api/v1/tours/{t['id']}/start").get_json()["state"] == "running"
    with services.db.read() as s:
        before = s.query(Case).count()
    for i in range(5):
        body = {"result": "issue", "note": "井盖缺失"} if i == 2 else {"result": "ok", "auto": i == 4}
        r = c.post(f"/api/v1/tours/{t['id']}/stops/{i}", json=body)
        assert r.status_code == 201, r.get_json()
        res = r.get_json()
        assert res["stop"]["grid_id"] == stops[i]["grid_id"]
        if i == 2:
            case = res["case"]
            assert case["grid_id"] == g[3] and case["source"] == "operator" and "井盖缺失" in case["description"]
            assert res["stop"]["case_id"] == case["id"]
        else:
            assert res["case"] is None
    assert res["tour"]["state"] == "finished"
    log = c.get(f"/api/v1/tours/{t['id']}").get_json()["log"]
    assert len(log) == 5 and [e["result"] for e in log] == ["ok", "ok", "issue", "ok", "ok"]
    assert log[0]["auto"] is True and all(e["operator"] for e in log)
    with services.db.read() as s:
        assert s.query(Case).count() == before + 1
        assert s.query(PatrolStopLog).filter_by(day=local_today()).count() == 5
    assert c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "ok"}).status_code == 409  # finished


def test_coverage_counts_foot_and_mouse_side_by_side(world):
    app, _, w = world
    c = app.test_client()
    g = w["grid_ids"]
    t = c.post("/api/v1/tours", json={"name": "x", "stops": [{"grid_id": g[5]}, {"grid_id": g[0]}]}).get_json()
    c.post(f"/api/v1/tours/{t['id']}/start")
    c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "ok"})
    c.post(f"/api/v1/tours/{t['id']}/stops/1", json={"result": "ok"})
    d = c.get("/api/v1/patrol/coverage").get_json()
    rows = {r["grid_id"]: r for r in d["grids"]}
    assert (rows[g[5]]["foot"], rows[g[5]]["mouse"]) == (1, 1)
    assert (rows[g[0]]["foot"], rows[g[0]]["mouse"]) == (0, 1)
    assert (rows[g[8]]["foot"], rows[g[8]]["mouse"]) == (0, 0)
    assert d["totals"] == {"grids": 9, "foot": 1, "mouse": 2, "none": 7}
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    assert c.get(f"/api/v1/patrol/coverage?day={yesterday}").get_json()["totals"]["none"] == 9
    comm = c.get(f"/api/v1/patrol/coverage?community_id={w['community_ids'][0]}").get_json()
    assert comm["totals"]["grids"] == 3
    assert len(c.get("/api/v1/patrol/log").get_json()["log"]) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks: one backend is enough
def test_pause_resume_finish_and_delete(world):
    app, _, w = world
    c = app.test_client()
    t = c.post("/api/v1/tours", json={"name": "p", "stops": [{"grid_id": w["grid_ids"][0]}] * 3}).get_json()
    c.post(f"/api/v1/tours/{t['id']}/start")
    assert c.post(f"/api/v1/tours/{t['id']}/pause", json={"reason": "alert:1"}).get_json()["state"] == "paused"
    assert c.post(f"/api/v1/tours/{t['id']}/pause").status_code == 409
    assert c.delete(f"/api/v1/tours/{t['id']}").status_code == 409
    assert c.post(f"/api/v1/tours/{t['id']}/resume").get_json()["state"] == "running"
    assert c.post(f"/api/v1/tours/{t['id']}/finish").get_json()["state"] == "finished"
    assert c.delete(f"/api/v1/tours/{t['id']}").status_code == 204
    assert c.get(f"/api/v1/tours/{t['id']}").status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks: one backend is enough
@pytest.mark.parametrize("body, field", [
    ({"name": "", "stops": [{"grid_id": 1}]}, "name"),
    ({"name": "x", "stops": []}, "stops"),
    ({"name": "x", "stops": [{"grid_id": "G00"}]}, "stops[0].grid_id"),
    ({"name": "x", "stops": [{"grid_id": 99999}]}, "stops[0].grid_id"),
    ({"name": "x", "stops": [{"grid_id": 1, "dwell_s": 0}]}, "stops[0].dwell_s"),
    ({"name": "x", "stops": [{"grid_id": 1, "camera_ids": [99999]}]}, "stops[0].camera_ids"),
])
def test_bad_tours_are_refused_and_change_nothing(world, body, field):
    app, services, _ = world
    c = app.test_client()
    r = c.post("/api/v1/tours", json=body)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field
    assert c.get("/api/v1/tours").get_json()["tours"] == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks: one backend is enough
def test_bad_marks_and_generators(world):
    app, services, w = world
    c = app.test_client()
    assert c.post("/api/v1/tours/generate", json={"kind": "random"}).get_json()["error"]["field"] == "kind"
    assert c.post("/api/v1/tours/generate", json={"kind": "community"}).get_json()["error"]["field"] == "community_id"
    t = c.post("/api/v1/tours", json={"name": "x", "stops": [{"grid_id": w["grid_ids"][0]}]}).get_json()
    c.post(f"/api/v1/tours/{t['id']}/start")
    r = c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "maybe"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "result"
    r = c.post(f"/api/v1/tours/{t['id']}/stops/5", json={"result": "ok"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "index"
    r = c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "issue", "category_code": "9999"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "category_code"
    with services.db.read() as s:
        assert s.query(PatrolStopLog).count() == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks: one backend is enough
def test_roles(world):
    app, services, w = world
    c = app.test_client()
    display = {"Authorization": f"Bearer {make_key(services, Role.DISPLAY)}"}
    worker = {"Authorization": f"Bearer {make_key(services, Role.WORKER, worker_id=w['worker_ids'][0])}"}
    assert c.get("/api/v1/tours", headers=display).status_code == 200
    assert c.post("/api/v1/tours/generate", json={"kind": "open_cases"}, headers=display).status_code == 403
    assert c.get("/api/v1/patrol/coverage", headers=worker).status_code == 403


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks: one backend is enough
def test_cameras_list_play_specs_and_simulated_streams(world):
    app, _, w = world
    c = app.test_client()
    cams = {x["code"]: x for x in c.get(f"/api/v1/cameras?grid_id={w['grid_ids'][0]}").get_json()["cameras"]}
    assert cams["CAMX"]["play"]["type"] == "hls" and cams["CAM0"]["play"]["type"] == "mjpeg"
    snap = c.get("/cameras/CAM0/snapshot.jpg")
    assert snap.status_code == 200 and snap.mimetype == "image/jpeg" and snap.data[:2] == b"\xff\xd8"
    r = c.get("/cameras/CAM0/mjpeg?frames=3&fps=5")
    assert r.mimetype == "multipart/x-mixed-replace"
    body = r.get_data()
    assert body.count(b"--gcframe\r\nContent-Type: image/jpeg") == 3 and body.count(b"\xff\xd8") >= 3
    assert c.get("/cameras/NOPE/snapshot.jpg").status_code == 404
    assert c.get("/api/v1/cameras?grid_id=x").status_code == 400
    hls = c.get("/vendor/hls.min.js")
    assert hls.status_code == 200 and len(hls.data) > 100_000


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_camera_streams_take_a_live_connection_slot_until_closed(world):
    """A stream holds a connection as a socket does (issue 26 item 2): past the cap it is a 503, and its slot
    comes back when the server closes the response, whether or not it was read."""
    app, services, _ = world
    guard = services.socket_guard
    guard.max_total = 1
    c = app.test_client()
    first = c.get("/cameras/CAM0/mjpeg?fps=5", buffered=False)
    assert first.status_code == 200 and guard.streams == 1
    second = c.get("/cameras/CAM0/mjpeg?fps=5", buffered=False)
    assert second.status_code == 503 and second.get_json()["error"]["status"] == 503
    first.close()
    assert guard.streams == 0 and guard.total == 0
    third = c.get("/cameras/CAM0/mjpeg?frames=1", buffered=False)
    assert third.status_code == 200
    third.close()
    assert guard.streams == 0
