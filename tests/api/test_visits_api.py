"""Visits (走访, issue 31 item 3) over HTTP: a worker records visits in her own grids only, whom is masked on every
answer, each caller lists the visits of its scope, and a promised follow-up becomes a case once.

The district (tests/utils/factories.make_district): W1 serves G00 (一社区, c1), W2 serves G11 (二社区, c2).
Visit times are given explicitly (a pinned clock: ``at`` in the past, never "now").
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.models import AuditLog, Case
from dashboard.timeutil import SHANGHAI, utcnow
from tests.api.conftest import make_key


@pytest.fixture
def field(district):
    app, services, world = district
    w1, w2 = world["worker_ids"]
    c1, c2 = world["community_ids"]
    keys = {"w1": make_key(services, "worker", worker_id=w1), "w2": make_key(services, "worker", worker_id=w2),
            "leader": make_key(services, "leader"), "leader_c1": make_key(services, "leader", community_id=c1),
            "dispatcher": make_key(services, "dispatcher")}
    grids = dict(zip(world["grid_codes"], world["grid_ids"]))
    centers = dict(zip(world["grid_codes"], world["centers"]))
    return app.test_client(), services, keys, grids, centers, (c1, c2), (w1, w2)


def h(key: str) -> dict:
    return {"X-API-Key": key}


def when(hours_ago: float) -> str:
    """An explicit visit time before the test's own clock (a day-stable ISO string with its zone)."""
    return (utcnow() - timedelta(hours=hours_ago)).astimezone(SHANGHAI).isoformat()


def visit(c, key, **body):
    body = {"kind": "household", "whom": "王小明", "needs": "楼道灯坏了，联系电话13812345678",
            "follow_up": "报修楼道灯", "at": when(1), **body}
    return c.post("/api/v1/visits", json=body, headers=h(key))


def test_a_worker_records_a_visit_in_her_grid_masked(field):
    c, _, keys, grids, centers, (c1, _c2), (w1, _w2) = field
    r = visit(c, keys["w1"], lat=centers["G00"][0], lon=centers["G00"][1])
    assert r.status_code == 201, r.get_json()
    v = r.get_json()
    assert (v["grid_id"], v["community_id"], v["worker_id"]) == (grids["G00"], c1, w1)
    assert v["whom"] == "王*明" and "王小明" not in str(v)
    assert "13812345678" not in v["needs"] and "138****5678" in v["needs"]
    assert v["worker"] == "张*" and v["follow_up_case_id"] is None
    # no grid named and no fix: her home grid
    r = visit(c, keys["w1"], kind="place", whom="", place="便民超市", needs="", opinions="门前停车乱", follow_up="")
    assert r.status_code == 201 and r.get_json()["grid_id"] == grids["G00"]


def test_a_worker_cannot_record_for_another_grid(field):
    c, services, keys, grids, centers, _, _ = field
    r = visit(c, keys["w1"], grid_id=grids["G11"])
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "grid_id"
    # nor for another worker
    r = visit(c, keys["w1"], worker_id=field[6][1])
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "worker_id"
    # a fix in someone else's grid files the visit in her own grid, never theirs
    r = visit(c, keys["w1"], lat=centers["G11"][0], lon=centers["G11"][1])
    assert r.status_code == 201 and r.get_json()["grid_id"] == grids["G00"]
    # a dispatcher does not record visits
    assert visit(c, keys["dispatcher"]).status_code == 403


BAD = [({"kind": "party"}, "kind"), ({"whom": "", "place": ""}, "whom"),
       ({"needs": "", "opinions": "", "follow_up": ""}, "needs"), ({"whom": "x" * 65}, "whom"),
       ({"needs": 5}, "needs"), ({"lat": 34.26}, "lon"), ({"lat": 91, "lon": 108.9}, "lat"),
       ({"grid_id": "G00"}, "grid_id"), ({"at": "yesterday"}, "at"), ({"at": "2026-11-20T10:00:00"}, "at")]


def test_bad_input_names_the_field_and_writes_nothing(field):
    c, _, keys, _, _, _, _ = field
    for body, field_name in BAD:
        r = visit(c, keys["w1"], **body)
        assert r.status_code == 422, (body, r.get_json())
        assert r.get_json()["error"]["field"] == field_name, body
    assert c.post("/api/v1/visits", data="x", headers=h(keys["w1"])).status_code == 400
    assert c.get("/api/v1/visits", headers=h(keys["w1"])).get_json()["visits"] == []


def test_each_caller_lists_its_scope(field):
    c, _, keys, grids, _, (c1, c2), (w1, w2) = field
    assert visit(c, keys["w1"], at=when(3)).status_code == 201
    assert visit(c, keys["w1"], at=when(2), whom="刘阿姨").status_code == 201
    assert visit(c, keys["w2"], at=when(1), whom="赵叔").status_code == 201

    def listed(key, **q):
        r = c.get("/api/v1/visits", query_string=q, headers=h(key))
        assert r.status_code == 200, r.get_json()
        return r.get_json()["visits"]

    mine = listed(keys["w1"])
    assert [v["worker_id"] for v in mine] == [w1, w1] and mine[0]["whom"] == "刘*姨"  # newest first
    assert {v["worker_id"] for v in listed(keys["w2"])} == {w2}
    assert listed(keys["w2"], worker_id=w1) == []  # a worker never reads another's
    assert {v["community_id"] for v in listed(keys["leader_c1"])} == {c1}
    assert len(listed(keys["leader"])) == 3 and len(listed(keys["leader"], grid_id=grids["G11"])) == 1
    assert c.get("/api/v1/visits?community_id=%d" % c2, headers=h(keys["leader_c1"])).status_code == 403
    assert c.get("/api/v1/visits?limit=0", headers=h(keys["leader"])).status_code == 400
    assert c.get("/api/v1/visits?day=2026-13-01", headers=h(keys["leader"])).status_code == 400


def test_a_follow_up_becomes_a_case_once(field):
    c, services, keys, grids, _, (c1, _c2), (w1, _w2) = field
    v = visit(c, keys["w1"], needs="楼道灯坏了", follow_up="报修楼道灯，两天内回复").get_json()
    # another worker's visit is not hers to turn into a case
    assert c.post(f"/api/v1/visits/{v['id']}/case", headers=h(keys["w2"])).status_code == 404
    r = c.post(f"/api/v1/visits/{v['id']}/case", headers=h(keys["w1"]))
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    case = out["case"]
    assert (case["source"], case["grid_id"], case["state"]) == ("app", grids["G00"], "reported")
    assert "报修楼道灯" in case["description"] and "王小明" not in case["description"]
    assert out["visit"]["follow_up_case_id"] == case["id"] and out["visit"]["follow_up_case_code"] == case["code"]
    # once: a second tap answers 409 and makes nothing
    again = c.post(f"/api/v1/visits/{v['id']}/case", headers=h(keys["w1"]))
    assert again.status_code == 409 and again.get_json()["error"]["field"] == "visit_id"
    with services.db.read() as s:
        assert s.scalar(select(Case.id).where(Case.reporter_worker_id == w1)) == case["id"]
        assert len(s.scalars(select(Case).where(Case.reporter_worker_id == w1)).all()) == 1
        row = s.scalar(select(AuditLog).where(AuditLog.action == "visit_case"))
        assert row is not None and row.target == f"case:{case['code']}"
    # the case is among her reports, and the visit says which case it became
    mine = c.get("/api/v1/cases", headers=h(keys["w1"])).get_json()["items"]
    assert [x["id"] for x in mine] == [case["id"]]
    assert c.get("/api/v1/visits", headers=h(keys["w1"])).get_json()["visits"][0]["follow_up_case_id"] == case["id"]


def test_the_centre_makes_a_case_of_a_visit_in_its_jurisdiction_only(field):
    c, services, keys, _, _, _, _ = field
    v2 = visit(c, keys["w2"], whom="", place="二社区广场", follow_up="路灯不亮").get_json()
    disp_c1 = make_key(services, "dispatcher", community_id=field[5][0])
    assert c.post(f"/api/v1/visits/{v2['id']}/case", headers=h(disp_c1)).status_code == 404
    r = c.post(f"/api/v1/visits/{v2['id']}/case", json={"category_code": "nope"}, headers=h(keys["dispatcher"]))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "category_code"
    r = c.post(f"/api/v1/visits/{v2['id']}/case", json={"category_code": "0101"}, headers=h(keys["dispatcher"]))
    assert r.status_code == 201 and r.get_json()["case"]["category_code"] == "0101"


def test_visits_count_on_the_briefing(field):
    c, _, keys, _, _, _, _ = field
    day = datetime.now(SHANGHAI).date()
    assert visit(c, keys["w1"], at=when(0.1)).status_code == 201
    b = c.get(f"/api/v1/briefing?day={day}", headers=h(keys["leader"])).get_json()
    assert b["visits"]["count"] >= 1 and b["visits"]["household"] >= 1


def test_a_visited_persons_name_is_masked_in_other_texts(field):
    """Whom a worker visited joins the known names: a case that mentions her is masked like any known person."""
    c, _, keys, _, centers, _, _ = field
    assert visit(c, keys["w1"], whom="欧阳娜娜").status_code == 201
    r = c.post("/api/v1/cases", json={"category_code": "0601", "description": "欧阳娜娜反映楼道灯坏了",
                                      "lat": centers["G00"][0], "lon": centers["G00"][1]}, headers=h(keys["w1"]))
    assert r.status_code == 201 and r.get_json()["description"] == "欧**娜反映楼道灯坏了"


def test_the_centre_unmasks_whom_with_a_reason_on_record(field):
    c, services, keys, _, _, (c1, c2), _ = field
    v = visit(c, keys["w1"], whom="王小明").get_json()
    body = {"kind": "visit", "field": "whom", "id": v["id"], "reason": "回访核实身份"}
    r = c.post("/api/v1/unmask", json=body, headers=h(keys["dispatcher"]))
    assert r.status_code == 200 and r.get_json()["value"] == "王小明"
    with services.db.read() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "unmask", AuditLog.target == f"visit:{v['id']}"))
        assert row is not None and row.detail["field"] == "whom"
    other = make_key(services, "dispatcher", community_id=c2)  # another community's visit: not found
    assert c.post("/api/v1/unmask", json=body, headers=h(other)).status_code == 404
    assert c.post("/api/v1/unmask", json=body, headers=h(keys["w1"])).status_code == 403  # workers never unmask
    assert c.post("/api/v1/unmask", json={**body, "field": "worker_id"},
                  headers=h(keys["dispatcher"])).status_code == 422
