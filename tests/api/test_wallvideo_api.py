"""Video from the wall (#27 item 4), server side: a camera's view lists its grid's on-duty workers nearest first
(masked, with code and distance), the drill-down register lists every place of a grid, and a "not patrolled today"
tour prefers grids with cameras and says how many of its stops have none."""
from __future__ import annotations

import pytest

from dashboard.models import Camera, Place, Role, Worker, WorkerGrid
from tests.api.conftest import make_key

METRE_LAT = 1 / 111_195  # degrees of latitude per metre


@pytest.fixture
def world(district):
    """Grid 0 gets a camera and three more workers at known distances from it: 50 m (on duty), 10 m (off duty),
    200 m (on duty) and one on duty with no fix yet; worker W1 of the district (张三) is on duty 120 m away."""
    app, services, w = district
    g0 = w["grid_ids"][0]
    lat, lon = w["centers"][0]
    with services.db.write() as s:
        cam = Camera(code="CAMV", name="路口东北角", grid_id=g0, lat=lat, lon=lon, stream_url="sim://CAMV")
        far = Camera(code="CAMN", name="街道口", grid_id=None, lat=lat, lon=lon, stream_url="sim://CAMN")
        s.add_all([cam, far])
        w1 = s.get(Worker, w["worker_ids"][0])
        w1.duty_state, w1.last_lat, w1.last_lon = "patrolling", lat + 120 * METRE_LAT, lon
        for code, name, state, dist in (("W50", "欧阳娜娜", "available", 50), ("W10", "王小明", "offline", 10),
                                        ("W200", "赵钱孙", "patrolling", 200), ("WNOFIX", "孙悟空", "available", None)):
            x = Worker(code=code, name=name, phone="13800000000", grid_id=w["grid_ids"][3], duty_state=state,
                       last_lat=None if dist is None else lat + dist * METRE_LAT, last_lon=None if dist is None else lon)
            x.grids = [WorkerGrid(grid_id=g0, primary=False)]  # helps out in grid 0
            s.add(x)
        s.flush()
        ids = {"cam": cam.id, "far": far.id}
    return app, services, w, ids


def test_camera_view_lists_the_grids_on_duty_workers_nearest_first_masked(world):
    app, services, w, ids = world
    c = app.test_client()
    r = c.get(f"/api/v1/cameras/{ids['cam']}/view")
    assert r.status_code == 200, r.get_json()
    d = r.get_json()
    assert d["camera"]["code"] == "CAMV" and d["camera"]["play"]["type"] == "mjpeg"
    assert d["grid"]["id"] == w["grid_ids"][0]
    rows = [(x["code"], x["name"], x["distance_m"]) for x in d["workers"]]
    # the off-duty worker 10 m away is not listed; the one without a fix comes last
    assert [x[0] for x in rows] == ["W50", "W1", "W200", "WNOFIX"], rows
    assert [x[2] for x in rows[:3]] == pytest.approx([50, 120, 200], abs=2)
    assert rows[3][2] is None
    assert [x[1] for x in rows] == ["欧**娜", "张*", "赵*孙", "孙*空"]  # masked, never the raw name
    assert d["can_call"] is True  # the demo operator on localhost is a dispatcher


def test_camera_view_outside_any_grid_scope_and_bad_ids(world):
    app, services, w, ids = world
    c = app.test_client()
    d = c.get(f"/api/v1/cameras/{ids['far']}/view").get_json()
    assert d["grid"] is None and [x["code"] for x in d["workers"]][:2] == ["W50", "W1"]
    r = c.get("/api/v1/cameras/999999/view")
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "camera_id"
    # a display screen may watch but not call; another community's camera is as unknown as a missing one
    display = make_key(services, Role.DISPLAY)
    d = c.get(f"/api/v1/cameras/{ids['cam']}/view", headers={"Authorization": f"Bearer {display}"}).get_json()
    assert d["can_call"] is False and d["workers"]
    other = make_key(services, Role.DISPATCHER, community_id=w["community_ids"][1])
    r = c.get(f"/api/v1/cameras/{ids['cam']}/view", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404
    worker = make_key(services, Role.WORKER, worker_id=w["worker_ids"][0])
    assert c.get(f"/api/v1/cameras/{ids['cam']}/view",
                 headers={"Authorization": f"Bearer {worker}"}).status_code == 403


def test_register_lists_every_place_of_the_grid_by_kind(world):
    app, services, w, _ = world
    g0 = w["grid_ids"][0]
    with services.db.write() as s:
        s.add_all([Place(code="CP1", kind="compound", name="幸福小区", grid_id=g0, households=80),
                   Place(code="SH1", kind="shop", name="便民超市", grid_id=g0),
                   Place(code="BZ1", kind="business", name="秦风科技有限公司", grid_id=g0),
                   Place(code="OF1", kind="office", name="街道办事处", grid_id=g0),
                   Place(code="BD1", kind="building", name="幸福小区1号楼", grid_id=g0),
                   Place(code="SH2", kind="shop", name="别的网格的店", grid_id=w["grid_ids"][1])])
    d = app.test_client().get(f"/api/v1/grids/{g0}/register?scope=wall").get_json()
    every = d["places"]["all"]
    assert [(p["kind"], p["name"]) for p in every] == [
        ("compound", "幸福小区"), ("building", "幸福小区1号楼"), ("shop", "便民超市"), ("business", "秦风科技有限公司"),
        ("office", "街道办事处")]


def test_unpatrolled_tour_prefers_grids_with_cameras_and_counts_stops_without(world):
    app, services, w, _ = world
    g = w["grid_ids"]
    with services.db.write() as s:  # cameras in grids 0 (CAMV, from the fixture), 5 and 7
        for i in (5, 7):
            lat, lon = w["centers"][i]
            s.add(Camera(code=f"CAM{i}", name=f"摄像头{i}", grid_id=g[i], lat=lat, lon=lon, stream_url=f"sim://CAM{i}"))
    c = app.test_client()
    t = c.post("/api/v1/tours/generate", json={"kind": "unpatrolled", "limit": 5}).get_json()
    assert [s["grid_id"] for s in t["stops"]] == [g[0], g[5], g[7], g[1], g[2]]  # with cameras first, then by code
    assert t["no_camera_stops"] == 2
    assert all(s["camera_ids"] for s in t["stops"][:3]) and not any(s["camera_ids"] for s in t["stops"][3:])
    t = c.post("/api/v1/tours/generate", json={"kind": "unpatrolled", "limit": 2}).get_json()
    assert t["no_camera_stops"] == 0
    assert c.get(f"/api/v1/tours/{t['id']}").get_json()["no_camera_stops"] == 0


def test_camera_hover_on_the_wall_map_is_plain_text_and_carries_the_camera_id(world):
    """No emoji (the wall PC has no emoji font: it showed a box), the camera's id for the click."""
    from layouts.wall.map import build_map

    app, services, w, ids = world
    for lang, word in (("zh-CN", "视频监控"), ("en", "Camera")):
        with services.db.read() as s:
            fig = build_map(s, services.settings, lang)
        cams = fig.data[2]
        assert cams.meta == "gc-cameras" and [c[0] for c in cams.customdata] == [ids["cam"], ids["far"]]
        assert cams.hovertemplate.startswith(word)
        assert all(ord(ch) < 0x2E80 or 0x3000 <= ord(ch) <= 0x9FFF or 0xFF00 <= ord(ch) <= 0xFFEF
                   for ch in cams.hovertemplate), cams.hovertemplate  # Latin, CJK and CJK punctuation only


def test_wall_people_map_masks_names_and_scopes_to_the_community(world):
    from layouts.wall.layout import people

    app, services, w, _ = world
    with services.db.read() as s:
        all_ = people(services, s, None)
        own = people(services, s, w["community_ids"][0])
    assert all_[str(w["worker_ids"][0])] == ["W1", "张*"]
    assert not any(v[1] in ("张三", "李四丰", "欧阳娜娜") for v in all_.values())
    assert set(own) < set(all_) and str(w["worker_ids"][1]) not in own  # W2 is in the other community

