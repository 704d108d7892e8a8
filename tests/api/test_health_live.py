"""The live path over HTTP: /healthz, /api/v1/events after a seq, /api/v1/snapshot."""
from __future__ import annotations

from datetime import datetime, timezone

from dashboard import events
from dashboard.services.cases import CaseReport, report_case
from dashboard.services.positions import Fix, ingest_fixes


def test_healthz_answers_json(district):
    app, services, world = district
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    assert body["status"] == "ok" and body["db"] == "ok"
    assert body["grids"] == 9 and body["workers"] == 2
    assert body["backend"] == services.db.engine.dialect.name
    assert isinstance(body["last_seq"], int)


def test_events_after_in_order_with_limit(district):
    app, services, _ = district
    c = app.test_client()
    with services.db.write() as s:
        for i in range(7):
            events.record(s, "test", {"i": i})
    body = c.get("/api/v1/events?after=0").get_json()
    seqs = [m["seq"] for m in body["events"]]
    assert [m["payload"]["i"] for m in body["events"]] == list(range(7))
    assert seqs == sorted(seqs) and len(set(seqs)) == 7 and body["last_seq"] == seqs[-1] and not body["more"]

    page = c.get(f"/api/v1/events?after={seqs[1]}&limit=3").get_json()
    assert [m["seq"] for m in page["events"]] == seqs[2:5] and page["more"] is True
    rest = c.get(f"/api/v1/events?after={seqs[4]}&limit=3").get_json()
    assert [m["seq"] for m in rest["events"]] == seqs[5:] and rest["more"] is False
    assert c.get(f"/api/v1/events?after={seqs[-1]}").get_json()["events"] == []
    assert [m["type"] for m in c.get("/api/v1/events?after=0&types=case").get_json()["events"]] == []


def test_bad_query_parameters_are_400_naming_the_field(district):
    app, _, _ = district
    c = app.test_client()
    for q, field in [("after=abc", "after"), ("after=-1", "after"), ("after=1.5", "after"),
                     ("limit=0", "limit"), ("limit=x", "limit"), ("limit=999999", "limit")]:
        r = c.get(f"/api/v1/events?{q}")
        assert r.status_code == 400, q
        err = r.get_json()["error"]
        assert err["field"] == field and field in err["message"], q


def test_snapshot_holds_seq_and_consistent_data(district):
    app, services, world = district
    c = app.test_client()
    lat, lon = world["centers"][4]
    t = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
    with services.db.write() as s:
        ingest_fixes(s, [Fix(device_id="DEV2", fix_time=t, lat=lat, lon=lon)], locator=services.locator, now=t)
        case, _ = report_case(s, CaseReport(category_code="0401", lat=lat, lon=lon, description="消防通道被堵",
                                            reporter_name="王小明", reporter_phone="13812345678"),
                              locator=services.locator)
        onsite, _ = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon, onsite=True),
                                locator=services.locator)
        case_code, onsite_code = case.code, onsite.code
    snap = c.get("/api/v1/snapshot").get_json()
    head = c.get("/api/v1/events?after=0").get_json()["last_seq"]
    assert snap["seq"] == head > 0
    # everything up to seq is in the snapshot: the open case, not the closed one
    codes = [x["code"] for x in snap["cases"]]
    assert case_code in codes and onsite_code not in codes
    shown = next(x for x in snap["cases"] if x["code"] == case_code)
    assert shown["grid_id"] == world["grid_ids"][4] and shown["state"] == "reported"
    assert shown["reporter"] == "王*明" and shown["reporter_phone"] == "138****5678"
    assert "13812345678" not in str(snap) and "王小明" not in str(snap)
    assert snap["open_by_grid"] == {str(world["grid_ids"][4]): 1}
    w2 = next(w for w in snap["workers"] if w[0] == world["worker_ids"][1])
    assert snap["worker_fields"][:3] == ["worker_id", "lat", "lon"] and (w2[1], w2[2]) == (lat, lon)
    # a change after the snapshot arrives as an event after its seq
    with services.db.write() as s:
        events.record(s, "test", {"after": True})
    later = c.get(f"/api/v1/events?after={snap['seq']}").get_json()["events"]
    assert [m["payload"] for m in later] == [{"after": True}]
    # one community only
    comm = c.get(f"/api/v1/snapshot?community_id={world['community_ids'][0]}").get_json()
    assert comm["cases"] == [] and [w[0] for w in comm["workers"]] == [world["worker_ids"][0]]
