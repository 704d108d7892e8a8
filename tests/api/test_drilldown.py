"""Grid drill-down: the register of a grid, and that nothing a wall can open carries unmasked personal data."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from dashboard.models import Camera, Contact, Organisation, Place, Position, ResidentCount, Role
from dashboard.services.cases import CaseReport, report_case
from dashboard.timeutil import SHANGHAI
from tests.api.conftest import make_key

RAW = {"citizen": "王大锤", "citizen_phone": "13700001111", "contact": "赵六六", "contact_phone": "13500002222",
       "street_head": "钱七七", "street_phone": "18600003333"}


@pytest.fixture
def world(district):
    """The 3×3 district with registers on grid 0: residents, places, a camera, an organisation, contacts,
    today's track of worker 1 and two cases (one from a citizen with name and phone).

    The API's clock is pinned to 10:00 local: "today's track" must not depend on when the suite runs
    (a run just after midnight in Asia/Shanghai would otherwise put part of the track on yesterday)."""
    app, services, w = district
    now = datetime.now(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)
    services.clock = lambda: now
    g0, g1 = w["grid_ids"][0], w["grid_ids"][1]
    lat, lon = w["centers"][0]
    with services.db.write() as s:
        s.add_all([ResidentCount(grid_id=g0, category=c, count=n) for c, n in
                   (("户籍人口", 120), ("流动人口", 30), ("党员", 9))])
        cp = Place(code="CP1", kind="compound", name="幸福小区", grid_id=g0, lat=lat, lon=lon, households=80)
        s.add(cp)
        s.flush()
        s.add_all([Place(code="BD1", kind="building", name="幸福小区1号楼", grid_id=g0, parent_id=cp.id, floors=6),
                   Place(code="SH1", kind="shop", name="便民超市", grid_id=g0),
                   Place(code="UN1", kind="unit", name="社区卫生站", grid_id=g0),
                   Place(code="SH2", kind="shop", name="别的网格的店", grid_id=g1)])
        s.add(Camera(code="CAMT1", name="幸福小区门口", grid_id=g0, lat=lat, lon=lon, stream_url="sim://CAMT1"))
        s.add(Camera(code="CAMT2", name="路口", grid_id=g1, lat=lat, lon=lon,
                     stream_url="http://10.0.0.5/live/cam2.m3u8"))
        s.add(Organisation(code="ORG1", name="邻里志愿队", kind="志愿服务", grid_id=g0, members=12))
        s.add_all([Contact(level="street", title="街道书记", name=RAW["street_head"], phone=RAW["street_phone"]),
                   Contact(level="compound", title="小区长", name=RAW["contact"], phone=RAW["contact_phone"],
                           grid_id=g0, place_id=cp.id),
                   Contact(level="building", title="楼栋长", name="孙八", phone="13900004444", grid_id=g1)])
        s.add_all([Position(worker_id=w["worker_ids"][0], fix_time=now - timedelta(minutes=m), lat=lat + m * 1e-5,
                            lon=lon, grid_id=g0) for m in range(5)])
        report_case(s, CaseReport(category_code="0101", description=f"门口堆了垃圾，联系我 {RAW['citizen_phone']}",
                                  lat=lat, lon=lon, source="open311", reporter_name=RAW["citizen"],
                                  reporter_phone=RAW["citizen_phone"]), locator=services.locator)
        report_case(s, CaseReport(category_code="0401", description="消防通道堵塞", lat=lat, lon=lon,
                                  reporter_worker_id=w["worker_ids"][0]), locator=services.locator)
    return app, services, w


def sensitive_strings(services) -> list[str]:
    """Every raw name and phone in the database."""
    from sqlalchemy import select
    from dashboard.models import Case, Worker

    with services.db.read() as s:
        out = [n for n, in s.execute(select(Worker.name))] + [p for p, in s.execute(select(Worker.phone))]
        out += [n for n, in s.execute(select(Contact.name))] + [p for p, in s.execute(select(Contact.phone))]
        out += [v for r in s.execute(select(Case.reporter_name, Case.reporter_phone)) for v in r]
    return [v for v in out if v]


def test_register_shows_the_grid_masked(world):
    app, services, w = world
    c = app.test_client()
    r = c.get(f"/api/v1/grids/{w['grid_ids'][0]}/register")
    assert r.status_code == 200
    d = r.get_json()
    assert d["grid"]["code"] == "G00" and d["scope"] == "console"
    assert d["residents"] == {"total": 150, "by_category": {"党员": 9, "户籍人口": 120, "流动人口": 30}}
    assert d["places"]["counts"] == {"building": 1, "compound": 1, "shop": 1, "unit": 1}
    assert [p["name"] for p in d["places"]["shops"]] == ["便民超市"]
    assert d["cases"]["open_count"] == 2 and len(d["cases"]["recent"]) == 2
    assert [cam["code"] for cam in d["cameras"]] == ["CAMT1"]
    assert d["cameras"][0]["play"] == {"type": "mjpeg", "url": "/cameras/CAMT1/mjpeg",
                                       "snapshot": "/cameras/CAMT1/snapshot.jpg"}
    assert [o["name"] for o in d["organisations"]] == ["邻里志愿队"]
    (worker,) = d["workers"]
    assert worker["name"] == "张*" and worker["phone"] == "138****5678" and len(worker["track"]) == 5
    levels = [(x["level"], x["name"], x["phone"]) for x in d["contacts"]]
    assert levels == [("street", "钱*七", "186****3333"), ("compound", "赵*六", "135****2222")]
    citizen_case = next(x for x in d["cases"]["open"] if x["source"] == "open311")
    assert citizen_case["reporter"] == "王*锤" and citizen_case["reporter_phone"] == "137****1111"


def test_wall_scope_leaves_out_reporters_and_masks_numbers_in_text(world):
    app, services, w = world
    d = app.test_client().get(f"/api/v1/grids/{w['grid_ids'][0]}/register?scope=wall").get_json()
    assert d["scope"] == "wall"
    for case in d["cases"]["open"] + d["cases"]["recent"]:
        assert "reporter" not in case and "reporter_phone" not in case
    assert any("137****1111" in x["description"] for x in d["cases"]["open"])


def test_display_screens_always_get_the_wall_scope(world):
    app, services, w = world
    key = make_key(services, Role.DISPLAY)
    r = app.test_client().get(f"/api/v1/grids/{w['grid_ids'][0]}/register?scope=console",
                              headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.get_json()["scope"] == "wall"
    worker_key = make_key(services, Role.WORKER, worker_id=w["worker_ids"][0])
    r = app.test_client().get(f"/api/v1/grids/{w['grid_ids'][0]}/register",
                              headers={"Authorization": f"Bearer {worker_key}"})
    assert r.status_code == 403


def test_bad_requests_are_clear(world):
    app, _, w = world
    c = app.test_client()
    r = c.get("/api/v1/grids/99999/register")
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "grid_id"
    r = c.get(f"/api/v1/grids/{w['grid_ids'][0]}/register?scope=everything")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "scope"


def test_nothing_a_wall_can_open_holds_raw_personal_data(world):
    """Every drill-down and patrol response a display key can read: no raw name or phone anywhere."""
    app, services, w = world
    c = app.test_client()
    tour = c.post("/api/v1/tours/generate", json={"kind": "open_cases", "limit": 3, "dwell_s": 5}).get_json()
    c.post(f"/api/v1/tours/{tour['id']}/start")
    c.post(f"/api/v1/tours/{tour['id']}/stops/0", json={"result": "issue", "note": "占道"})
    key = make_key(services, Role.DISPLAY)
    h = {"Authorization": f"Bearer {key}"}
    urls = [f"/api/v1/grids/{g}/register" for g in w["grid_ids"]]
    urls += [f"/api/v1/grids/{g}/register?scope=wall" for g in w["grid_ids"]]
    urls += ["/api/v1/cameras", "/api/v1/tours", f"/api/v1/tours/{tour['id']}", "/api/v1/patrol/log",
             "/api/v1/patrol/coverage"]
    raw = sensitive_strings(services)
    assert RAW["citizen"] in raw and RAW["contact_phone"] in raw  # the check below would notice them
    for url in urls:
        r = c.get(url, headers=h)
        assert r.status_code == 200, url
        text = json.dumps(r.get_json(), ensure_ascii=False)
        leaked = [v for v in raw if v in text]
        assert not leaked, f"{url} leaks {leaked}"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_demo_street_wall_drilldown_is_masked(demo_services):
    """On the demo street (301 grids, 490 workers, 1,838 contacts): every grid's wall register is masked."""
    from sqlalchemy import select
    from dashboard.models import Grid

    app, services = demo_services
    key = make_key(services, Role.DISPLAY)
    raw = [v for v in sensitive_strings(services) if len(v) >= 3]  # 2-char names can be parts of place names
    with services.db.read() as s:
        grid_ids = list(s.scalars(select(Grid.id).order_by(Grid.id)))
    c = app.test_client()
    big = "\n".join(json.dumps(c.get(f"/api/v1/grids/{g}/register", headers={"Authorization": f"Bearer {key}"})
                               .get_json(), ensure_ascii=False) for g in grid_ids[::5])
    assert "*" in big
    leaked = [v for v in raw if v in big]
    assert not leaked, leaked[:5]
