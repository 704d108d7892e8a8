"""The closed loop through HTTP, with the clock under the test's control.

Cases are reported through the services at chosen times; every later step is an HTTP call
made while ``services.clock`` says a chosen time, so deadlines and indicators can be checked
against values worked out by hand on the 2026 working calendar (08:30–12:00, 14:00–17:30).
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from dashboard.events import events_after
from dashboard.models import Case, Dispatch, Grid, Worker
from dashboard.services.apikeys import create_api_key
from dashboard.services.cases import CaseReport, report_case
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


class Clock:
    def __init__(self) -> None:
        self.t = sh(2026, 1, 1)

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def world(app_services):
    app, services = app_services
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    clock = Clock()
    services.clock = clock
    with services.db.write() as s:
        w1 = s.scalar(select(Worker).where(Worker.code == "W1"))
        _, key = create_api_key(s, name="W1 phone", role="worker", worker_id=w1.id)
        g = s.scalar(select(Grid).where(Grid.code == "G00"))
        ids = {"w1": w1.id, "w2": s.scalar(select(Worker.id).where(Worker.code == "W2")), "grid": g.id,
               "lat": g.centroid_lat, "lon": g.centroid_lon}
    return app.test_client(), services, clock, {"Authorization": f"Bearer {key}"}, ids


def report(services, ids, t, *, cat="0101", onsite=False, dlat=0.0) -> int:
    with services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code=cat, lat=ids["lat"] + dlat, lon=ids["lon"], onsite=onsite,
                                         reporter_worker_id=ids["w1"], description="楼道堆放垃圾"),
                           locator=services.locator, now=t)
        return c.id


def act(client, clock, case_id, action, t, *, headers=None, status=200, **body):
    clock.t = t
    r = client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=headers or {})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def duty(services, wid) -> str:
    with services.db.read() as s:
        return s.get(Worker, wid).duty_state


def test_full_loop_across_a_weekend_and_a_holiday(world):
    client, services, clock, worker_hdr, ids = world
    w1 = ids["w1"]
    with services.db.read() as s:
        seq0 = max([e.seq for e in events_after(s, 0)] or [0])

    # --- case A: Friday 27 Nov 2026 → Monday 30 Nov (weekend in between) ---
    a = report(services, ids, sh(2026, 11, 27, 15, 0))
    out = act(client, clock, a, "escalate", sh(2026, 11, 27, 15, 10), note="超出网格处置能力")
    assert out["level"] == "community" and out["state"] == "reported"
    out = act(client, clock, a, "dispatch", sh(2026, 11, 27, 16, 0), worker_id=w1, note="请尽快处置")
    # 4 working hours from Fri 16:00: 1.5 h on Friday, 2.5 h from Monday 08:30 → Mon 11:00
    assert out["sla_due_at"] == "2026-11-30T11:00:00+08:00" and out["state"] == "dispatched"
    assert duty(services, w1) == "dispatched"
    # the center cannot approve what is not fed back; a worker cannot dispatch
    err = act(client, clock, a, "approve", sh(2026, 11, 27, 16, 1), status=409)
    assert "dispatched" in err["error"]["message"] and err["error"]["field"] == "action"
    act(client, clock, a, "dispatch", sh(2026, 11, 27, 16, 1), headers=worker_hdr, status=403, worker_id=w1)
    act(client, clock, a, "acknowledge", sh(2026, 11, 27, 16, 5), headers=worker_hdr)
    assert duty(services, w1) == "en_route"
    # arrival from GPS: a fix 20 m from the case
    with services.db.write() as s:
        ingest_fixes(s, [Fix(worker_id=w1, lat=ids["lat"] + 0.00018, lon=ids["lon"],
                             fix_time=sh(2026, 11, 27, 16, 20))], locator=services.locator, now=sh(2026, 11, 27, 16, 20))
    assert duty(services, w1) == "on_scene"
    act(client, clock, a, "arrive", sh(2026, 11, 27, 16, 21), headers=worker_hdr, status=409)  # already recorded
    act(client, clock, a, "handle", sh(2026, 11, 27, 16, 30), headers=worker_hdr)
    assert duty(services, w1) == "handling"
    act(client, clock, a, "feedback", sh(2026, 11, 30, 9, 0), headers=worker_hdr, note="已清理")
    assert duty(services, w1) == "available"
    out = act(client, clock, a, "reject", sh(2026, 11, 30, 9, 30), note="核查：仍有残留")  # failed check → rework
    assert out["state"] == "dispatched" and out["rework_count"] == 1 and duty(services, w1) == "dispatched"
    assert out["sla_due_at"] == "2026-11-30T11:00:00+08:00"  # the clock keeps running from the first dispatch
    act(client, clock, a, "acknowledge", sh(2026, 11, 30, 9, 40), headers=worker_hdr)
    act(client, clock, a, "arrive", sh(2026, 11, 30, 9, 50), headers=worker_hdr)
    act(client, clock, a, "handle", sh(2026, 11, 30, 9, 55), headers=worker_hdr)
    act(client, clock, a, "feedback", sh(2026, 11, 30, 10, 30), headers=worker_hdr)
    out = act(client, clock, a, "approve", sh(2026, 11, 30, 10, 45), note="核查通过")
    assert out["state"] == "closed" and out["closed_at"] == "2026-11-30T10:45:00+08:00"
    assert out["actions"] == ["evaluate"]
    steps = [(e["action"], e["at"][11:16]) for e in out["timeline"]]
    assert steps == [("report", "15:00"), ("escalate", "15:10"), ("dispatch", "16:00"), ("acknowledge", "16:05"),
                     ("arrive", "16:20"), ("handle", "16:30"), ("feedback", "09:00"), ("reject", "09:30"),
                     ("acknowledge", "09:40"), ("arrive", "09:50"), ("handle", "09:55"), ("feedback", "10:30"),
                     ("approve", "10:45")]
    assert [e["actor"] for e in out["timeline"]][4] == "GPS"
    assert len(out["dispatches"]) == 2 and out["dispatches"][0]["arrived_at"] == "2026-11-27T16:20:00+08:00"

    # --- case B: across the National Day holiday, closed late ---
    b = report(services, ids, sh(2026, 9, 30, 16, 30), dlat=0.0003)
    act(client, clock, b, "register", sh(2026, 9, 30, 16, 40))
    out = act(client, clock, b, "dispatch", sh(2026, 9, 30, 17, 0), worker_id=w1)
    # 0.5 h on 30 Sep, holiday 1–7 Oct, then 3.5 h on Thu 8 Oct from 08:30 → 12:00
    assert out["sla_due_at"] == "2026-10-08T12:00:00+08:00"
    for action, t in [("acknowledge", sh(2026, 10, 8, 9)), ("arrive", sh(2026, 10, 8, 9, 30)),
                      ("handle", sh(2026, 10, 8, 9, 31)), ("feedback", sh(2026, 10, 8, 14, 30))]:
        act(client, clock, b, action, t, headers=worker_hdr)
    act(client, clock, b, "approve", sh(2026, 10, 8, 15, 0))

    # --- C: handled on the spot; D: void with a reason (a void without one is a 400 naming note) ---
    report(services, ids, sh(2026, 11, 2, 10), onsite=True)
    d = report(services, ids, sh(2026, 11, 2, 11), cat="0601")
    err = act(client, clock, d, "void", sh(2026, 11, 2, 11, 5), status=400)
    assert err["error"]["field"] == "note"
    act(client, clock, d, "void", sh(2026, 11, 2, 11, 6), note="重复上报")
    act(client, clock, d, "register", sh(2026, 11, 2, 11, 7), status=409)

    clock.t = sh(2026, 12, 1, 9)
    r = client.get("/api/v1/indicators?level=street&from=2026-09-01&to=2026-11-30")
    assert r.status_code == 200
    [row] = r.get_json()["rows"]
    assert (row["due"], row["closed"], row["closed_on_time"]) == (2, 2, 1)
    assert (row["closure_rate"], row["on_time_rate"]) == (1.0, 0.5)
    assert (row["checked"], row["reworked"], row["rework_rate"]) == (2, 1, 0.5)
    assert (row["reported"], row["onsite"]) == (3, 1) and row["onsite_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # A: Fri 16:00 → Mon 10:45 = 66.75 h, working 1.5 + 2.25 = 3.75 h
    # B: 30 Sep 17:00 → 8 Oct 15:00 = 190 h, working 0.5 + 3.5 + 1 = 5 h
    assert row["avg_handling_hours"] == pytest.approx((66.75 + 190) / 2, abs=1e-3)
    assert row["avg_handling_work_hours"] == pytest.approx((3.75 + 5) / 2, abs=1e-3)
    [wrow] = client.get("/api/v1/indicators?level=worker&from=2026-11-01&to=2026-11-30").get_json()["rows"]
    assert (wrow["code"], wrow["due"], wrow["closed_on_time"], wrow["rework_rate"]) == ("W1", 1, 1, 1.0)

    # duty-state changes went out as "worker" events, in the order of the task
    with services.db.read() as s:
        states = [e.payload["worker"]["state"] for e in events_after(s, seq0, limit=5000)
                  if e.type == "worker" and e.payload["worker"]["id"] == w1]
    assert states[:5] == ["dispatched", "en_route", "on_scene", "handling", "available"]


def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(world):
    client, services, clock, worker_hdr, ids = world
    a = report(services, ids, sh(2026, 11, 27, 15, 0))
    clock.t = sh(2026, 11, 27, 15, 5)
    for body, field in [({"worker_id": "x"}, "worker_id"), ({"worker_id": 999999}, "worker_id"),
                        ({"note": 5}, "note"), ({}, "worker_id")]:
        r = client.post(f"/api/v1/cases/{a}/actions/dispatch", json=body)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    r = client.post(f"/api/v1/cases/{a}/actions/dispatch", data="[1,2", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"
    assert client.post(f"/api/v1/cases/{a}/actions/teleport", json={}).get_json()["error"]["field"] == "action"
    assert client.post("/api/v1/cases/999999/actions/register", json={}).status_code == 404
    # a worker cannot act on someone else's case
    assert client.post(f"/api/v1/cases/{a}/actions/acknowledge", json={}, headers=worker_hdr).status_code == 403
    with services.db.read() as s:
        c = s.get(Case, a)
        assert c.state == "reported" and c.dispatched_at is None and len(c.timeline) == 1
        assert s.scalar(select(Dispatch).where(Dispatch.case_id == a)) is None
    assert client.get("/api/v1/indicators?level=planet").get_json()["error"]["field"] == "level"
    assert client.get("/api/v1/indicators?from=yesterday").get_json()["error"]["field"] == "from"


def test_recommendations_duplicates_and_merge(world):
    client, services, clock, _, ids = world
    with services.db.write() as s:
        w1, w2 = s.get(Worker, ids["w1"]), s.get(Worker, ids["w2"])
        w1.duty_state, w1.last_lat, w1.last_lon = "patrolling", ids["lat"] + 0.001, ids["lon"]   # ~111 m
        w2.duty_state, w2.last_lat, w2.last_lon = "available", ids["lat"] + 0.0005, ids["lon"]   # ~56 m
    a = report(services, ids, sh(2026, 11, 27, 15, 0))
    b = report(services, ids, sh(2026, 11, 27, 18, 0), dlat=0.0003)        # ~33 m, same category: duplicate
    report(services, ids, sh(2026, 11, 27, 18, 0), dlat=0.0006)            # ~67 m: not a duplicate
    report(services, ids, sh(2026, 11, 27, 18, 0), cat="0601")             # other category
    report(services, ids, sh(2026, 11, 29, 16, 0))                         # 49 h later
    rec = client.get(f"/api/v1/cases/{a}/recommendations").get_json()["workers"]
    assert [w["code"] for w in rec] == ["W2", "W1"] and rec[0]["name"] == "李*丰"
    assert rec[0]["distance_m"] == pytest.approx(55.6, abs=1.0) and rec[0]["load"] == 0
    clock.t = sh(2026, 11, 27, 16)
    act(client, clock, a, "dispatch", sh(2026, 11, 27, 16), worker_id=ids["w2"])
    rec = client.get(f"/api/v1/cases/{b}/recommendations").get_json()["workers"]
    assert [w["code"] for w in rec] == ["W1", "W2"] and rec[1]["load"] == 1 and rec[1]["state"] == "dispatched"
    dups = client.get(f"/api/v1/cases/{a}/duplicates").get_json()["duplicates"]
    assert [d["id"] for d in dups] == [b] and dups[0]["distance_m"] == pytest.approx(33.4, abs=1.0)
    r = client.post(f"/api/v1/cases/{b}/merge", json={})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "into"
    out = client.post(f"/api/v1/cases/{b}/merge", json={"into": a}).get_json()
    assert out["id"] == a and out["timeline"][-1]["action"] == "merged"
    with services.db.read() as s:
        assert s.get(Case, b).state == "void" and s.get(Case, b).merged_into_id == a
    assert client.post(f"/api/v1/cases/{b}/merge", json={"into": a}).status_code == 409
    assert client.get(f"/api/v1/cases/{a}/duplicates").get_json()["duplicates"] == []


def test_category_time_limits_are_admin_edits(world):
    client, services, clock, worker_hdr, ids = world
    with services.db.write() as s:
        _, admin = create_api_key(s, name="admin", role="admin")
    hdr = {"Authorization": f"Bearer {admin}"}
    cats = {c["code"]: c for c in client.get("/api/v1/categories").get_json()["items"]}
    assert cats["0101"]["time_limit_hours"] == 4
    assert client.patch("/api/v1/categories/0101", json={"time_limit_hours": 8}).status_code == 403  # dispatcher
    r = client.patch("/api/v1/categories/0101", json={"time_limit_hours": -1}, headers=hdr)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "time_limit_hours"
    assert client.patch("/api/v1/categories/0101", json={"code": "x"}, headers=hdr).get_json()["error"]["field"] == "code"
    assert client.patch("/api/v1/categories/0101", json={"time_limit_hours": 8}, headers=hdr).status_code == 200
    a = report(services, ids, sh(2026, 11, 27, 15, 0))
    out = act(client, clock, a, "dispatch", sh(2026, 11, 27, 16), worker_id=ids["w1"])
    # 8 working hours from Fri 16:00: 1.5 Fri + 3.5 Mon morning + 3 Mon afternoon → Mon 17:00
    assert out["sla_due_at"] == "2026-11-30T17:00:00+08:00"
