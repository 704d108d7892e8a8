"""Alert rules with a controlled clock: overdue, 80 % warning, no acknowledgement, worker offline,
grid not patrolled, case spike, device SOS; each idempotent, cleared when the cause is gone;
the alert lifecycle over HTTP (acknowledge/resolve with comment) and dispatch from an alert."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.models import Alert, Case, Grid, Worker
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.services.rules import RuleConfig, run_rules
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


@pytest.fixture
def world(app_services):
    app, services = app_services
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    with services.db.read() as s:
        grids = {g.code: (g.id, g.centroid_lat, g.centroid_lon) for g in s.scalars(select(Grid))}
        workers = dict(s.execute(select(Worker.code, Worker.id)).all())
    return app.test_client(), services, grids, workers


def new_case(services, grids, t, *, grid="G00", cat="0101"):
    gid, lat, lon = grids[grid]
    with services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code=cat, lat=lat, lon=lon), locator=services.locator, now=t)
        return c.id


def step(services, cid, action, t, **kw):
    with services.db.write() as s:
        transition(s, s.get(Case, cid), action, actor="t", calendar=services.calendar, now=t, **kw)


def rules(services, t, **cfg):
    with services.db.write() as s:
        return run_rules(s, now=t, calendar=services.calendar, config=RuleConfig(**cfg))


def open_alerts(services, kind=None):
    with services.db.read() as s:
        q = select(Alert).where(Alert.state != "resolved")
        if kind:
            q = q.where(Alert.kind == kind)
        return list(s.scalars(q.order_by(Alert.id)))


def test_sla_warning_overdue_and_no_ack(world):
    _, services, grids, workers = world
    cid = new_case(services, grids, sh(2026, 11, 30, 8, 50))
    step(services, cid, "dispatch", sh(2026, 11, 30, 9, 0), worker_id=workers["W1"])  # 4 h: 3 h to 12:00, 1 h from 14:00 → due 15:00
    assert rules(services, sh(2026, 11, 30, 9, 14))["no_ack"] == 0
    assert rules(services, sh(2026, 11, 30, 9, 15))["no_ack"] == 1
    assert rules(services, sh(2026, 11, 30, 9, 16))["no_ack"] == 0          # idempotent
    step(services, cid, "acknowledge", sh(2026, 11, 30, 9, 20))
    res = rules(services, sh(2026, 11, 30, 9, 21))
    assert res["cleared"] == 1 and open_alerts(services, "no_ack") == []
    # 80 % of 4 working hours = 3.2 h after 09:00 → 12:00 is 3 h; +0.2 h after 14:00 = 14:12
    assert rules(services, sh(2026, 11, 30, 14, 11))["overdue_and_warning"] == 0
    assert rules(services, sh(2026, 11, 30, 14, 12))["overdue_and_warning"] == 1
    [warn] = open_alerts(services, "sla_warning")
    assert warn.case_id == cid and warn.severity == "moderate"
    assert rules(services, sh(2026, 11, 30, 14, 59))["overdue_and_warning"] == 0
    assert rules(services, sh(2026, 11, 30, 15, 0))["overdue_and_warning"] == 1
    assert rules(services, sh(2026, 11, 30, 16, 0))["overdue_and_warning"] == 0
    [over] = open_alerts(services, "overdue")
    assert over.severity == "severe" and over.worker_id == workers["W1"]
    step(services, cid, "feedback", sh(2026, 11, 30, 16, 5))
    step(services, cid, "approve", sh(2026, 11, 30, 16, 10))
    assert rules(services, sh(2026, 11, 30, 16, 11))["cleared"] == 2
    assert open_alerts(services) == []


def test_worker_offline_during_shift_and_back(world):
    _, services, grids, workers = world
    _, lat, lon = grids["G00"]
    w = workers["W1"]
    with services.db.write() as s:
        s.get(Worker, w).duty_state = "patrolling"
        ingest_fixes(s, [Fix(worker_id=w, lat=lat, lon=lon, fix_time=sh(2026, 11, 30, 9))], locator=services.locator,
                     now=sh(2026, 11, 30, 9))
    assert rules(services, sh(2026, 11, 30, 9, 19))["worker_offline"] == 0
    assert rules(services, sh(2026, 11, 30, 9, 21))["worker_offline"] == 1
    assert rules(services, sh(2026, 11, 30, 9, 40))["worker_offline"] == 0
    assert rules(services, sh(2026, 12, 6, 9, 40))["worker_offline"] == 0  # a Sunday: no shift
    with services.db.write() as s:
        ingest_fixes(s, [Fix(worker_id=w, lat=lat, lon=lon, fix_time=sh(2026, 11, 30, 9, 45))],
                     locator=services.locator, now=sh(2026, 11, 30, 9, 45))
    assert rules(services, sh(2026, 11, 30, 9, 46))["cleared"] == 1


def test_grid_not_patrolled_and_spike(world):
    _, services, grids, workers = world
    (_, lat0, lon0), (_, lat4, lon4) = grids["G00"], grids["G11"]
    with services.db.write() as s:
        ingest_fixes(s, [Fix(worker_id=workers["W1"], lat=lat0, lon=lon0, fix_time=sh(2026, 11, 30, 9, 0))],
                     locator=services.locator, now=sh(2026, 11, 30, 9, 0))
    # 1 working hour before Mon 09:20 is Fri 17:10: the history (from 09:00) is too short to judge
    assert rules(services, sh(2026, 11, 30, 9, 20), patrol_hours=1)["not_patrolled"] == 0
    assert rules(services, sh(2026, 11, 30, 12, 30), patrol_hours=1)["not_patrolled"] == 0  # lunch break
    with services.db.write() as s:  # an older fix in G11, received at 07:00
        ingest_fixes(s, [Fix(worker_id=workers["W2"], lat=lat4, lon=lon4, fix_time=sh(2026, 11, 30, 7, 0))],
                     locator=services.locator, now=sh(2026, 11, 30, 7, 0))
    # Mon 09:40 − 1 working hour = 08:40: only G00 was seen since; G11's fix is older
    # (fold_threshold: one alert per grid here; tests/api/test_alerts_calm.py folds them into community alerts)
    assert rules(services, sh(2026, 11, 30, 9, 40), patrol_hours=1, fold_threshold=100, street_fold_threshold=100)["not_patrolled"] == 8
    assert {a.grid_id for a in open_alerts(services, "not_patrolled")} == {g for c, (g, _, _) in grids.items()
                                                                           if c != "G00"}
    assert rules(services, sh(2026, 11, 30, 9, 50), patrol_hours=1, fold_threshold=100, street_fold_threshold=100)["not_patrolled"] == 0
    # by 10:30 G00's 09:00 fix is more than a working hour old too
    assert rules(services, sh(2026, 11, 30, 10, 30), patrol_hours=1, fold_threshold=100, street_fold_threshold=100)["not_patrolled"] == 1
    # Mon 08:40 − 8 working hours reaches back to Thu 16:40: nights and the weekend do not count
    with services.db.read() as s:
        assert services.calendar.subtract_working_hours(sh(2026, 11, 30, 8, 40), 8) == sh(2026, 11, 26, 16, 40)
    # spike: G11 had 1 case in this hour a week ago; with at least 3 needed, 3 within an hour is a spike, 2 is not
    new_case(services, grids, sh(2026, 11, 23, 10), grid="G11")
    for m in (0, 10):
        new_case(services, grids, sh(2026, 11, 30, 10, m), grid="G11")
    assert rules(services, sh(2026, 11, 30, 10, 30), spike_min_cases=3)["case_spike"] == 0
    new_case(services, grids, sh(2026, 11, 30, 10, 20), grid="G11")
    assert rules(services, sh(2026, 11, 30, 10, 30), spike_min_cases=3)["case_spike"] == 1
    assert rules(services, sh(2026, 11, 30, 10, 40), spike_min_cases=3)["case_spike"] == 0
    [spike] = open_alerts(services, "case_spike")
    assert spike.grid_id == grids["G11"][0] and spike.data["count"] == 3


def test_sos_shows_and_alert_lifecycle_over_http(world):
    client, services, grids, workers = world
    _, lat, lon = grids["G00"]
    with services.db.write() as s:
        ingest_fixes(s, [Fix(device_id="DEV1", lat=lat, lon=lon, alarm="sos", fix_time=sh(2026, 11, 30, 9))],
                     locator=services.locator, now=sh(2026, 11, 30, 9))
    items = client.get("/api/v1/alerts").get_json()["items"]
    [sos] = [i for i in items if i["kind"] == "sos"]
    assert sos["severity"] == "extreme" and sos["worker_name"] == "张*" and sos["grid_id"] == grids["G00"][0]
    assert [a["id"] for a in client.get("/api/v1/snapshot").get_json()["alerts"]] == [sos["id"]]
    r = client.post(f"/api/v1/alerts/{sos['id']}/resolve", json={"comment": 5})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "comment"
    r = client.post(f"/api/v1/alerts/{sos['id']}/acknowledge", json={"comment": "已电话联系"})
    assert r.status_code == 200 and r.get_json()["state"] == "acknowledged" and r.get_json()["ack_comment"] == "已电话联系"
    assert client.post(f"/api/v1/alerts/{sos['id']}/acknowledge", json={}).status_code == 409
    r = client.post(f"/api/v1/alerts/{sos['id']}/resolve", json={"comment": "人员安全"})
    assert r.get_json()["state"] == "resolved" and r.get_json()["resolve_comment"] == "人员安全"
    assert client.post(f"/api/v1/alerts/{sos['id']}/resolve", json={}).status_code == 409
    assert client.get("/api/v1/alerts").get_json()["items"] == []
    assert client.get("/api/v1/alerts?state=resolved").get_json()["items"][0]["id"] == sos["id"]
    assert client.get("/api/v1/alerts?state=bogus").get_json()["error"]["field"] == "state"


def test_dispatch_from_an_alert(world):
    client, services, grids, workers = world
    _, lat, lon = grids["G11"]
    with services.db.write() as s:
        w2 = s.get(Worker, workers["W2"])
        w2.duty_state, w2.last_lat, w2.last_lon = "patrolling", lat, lon
        ingest_fixes(s, [Fix(device_id="DEV1", lat=lat + 0.0003, lon=lon, alarm="sos")], locator=services.locator)
    [a] = client.get("/api/v1/alerts").get_json()["items"]
    rec = client.get(f"/api/v1/alerts/{a['id']}/recommendations").get_json()["workers"]
    assert rec[0]["code"] == "W2" and rec[0]["distance_m"] == pytest.approx(33.4, abs=1)
    r = client.post(f"/api/v1/alerts/{a['id']}/dispatch", json={"worker_id": workers["W2"]})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "category_code"
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    r = client.post(f"/api/v1/alerts/{a['id']}/dispatch", json={"worker_id": workers["W2"], "category_code": "0401"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["alert"]["state"] == "acknowledged" and out["alert"]["case_id"] == out["case"]["id"]
    assert out["case"]["state"] == "dispatched" and out["case"]["assigned_worker_id"] == workers["W2"]
    assert out["case"]["source"] == "operator" and out["case"]["grid_id"] == grids["G11"][0]
    with services.db.read() as s:
        assert s.get(Worker, workers["W2"]).duty_state == "dispatched"
    # again from the same alert: redispatch of the same case, no second case
    r = client.post(f"/api/v1/alerts/{a['id']}/dispatch", json={"worker_id": workers["W1"]})
    assert r.status_code == 200 and r.get_json()["case"]["id"] == out["case"]["id"]
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        assert s.get(Worker, workers["W2"]).duty_state == "available"
