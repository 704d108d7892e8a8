"""Activities in over HTTP (one, and a CSV/Excel import with row-level errors) and the indicators out."""
from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import func, select

from dashboard.models import Event
from dashboard.models.governance import GovernanceActivity
from tests.api.conftest import make_key


def n_activities(services) -> int:
    with services.db.read() as s:
        return s.scalar(select(func.count()).select_from(GovernanceActivity))


def test_create_activity_records_and_publishes(district):
    app, services, w = district
    c = app.test_client()
    r = c.post("/api/v1/governance/activities", json={
        "kind": "org_service", "title": "乐修匠便民维修", "grid_code": w["grid_codes"][1],
        "started_at": "2026-11-20 09:30", "participants": 25, "volunteers": 4, "volunteer_hours": 8})
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert a["dimension"] == "virtue" and a["started_at"] == "2026-11-20T09:30:00+08:00"
    assert a["community_id"] == w["community_ids"][1]
    with services.db.read() as s:
        ev = s.scalar(select(Event).where(Event.type == "activity"))
        assert ev.payload["activity"]["code"] == a["code"] and ev.community_id == a["community_id"]

    # bad input: 400 naming the field, nothing written
    base = {"kind": "mediation", "title": "调解", "grid_code": w["grid_codes"][0], "started_at": "2026-11-20 09:30"}
    for change, field in [({"kind": "party"}, "kind"), ({"grid_code": "NOPE"}, "grid_code"),
                          ({"started_at": "yesterday-ish"}, "started_at"), ({"title": ""}, "title"),
                          ({"participants": -3}, "participants"), ({"ended_at": "2026-11-20 08:00"}, "ended_at"),
                          ({"volunteers": 1, "volunteer_hours": 30}, "volunteer_hours"),
                          ({"started_at": "2099-01-01 10:00"}, "started_at")]:
        r = c.post("/api/v1/governance/activities", json={**base, **change})
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field, (change, r.get_json())
    assert n_activities(services) == 1

    # roles: a worker may record, a display may only read
    body = {"kind": "volunteer_service", "title": "清理楼道", "grid_code": w["grid_codes"][0],
            "started_at": "2026-11-20T09:30:00+08:00"}
    worker = make_key(services, "worker", w["worker_ids"][0])
    display = make_key(services, "display")
    assert c.post("/api/v1/governance/activities", json=body, headers={"X-API-Key": worker}).status_code == 201
    assert c.post("/api/v1/governance/activities", json=body, headers={"X-API-Key": display}).status_code == 403
    assert c.get("/api/v1/governance/indicators", headers={"X-API-Key": display}).status_code == 200


CSV = """kind,title,grid_code,started_at,volunteers,volunteer_hours,code
sanguan_visit,法官进网格,{g0},2026-11-20 10:00,0,0,IMP1
civility_practice,文明实践,{g1},2026-11-20 14:00,3,6,IMP2
"""


def test_import_csv_and_excel_all_rows_or_none(district):
    app, services, w = district
    c = app.test_client()
    data = CSV.format(g0=w["grid_codes"][0], g1=w["grid_codes"][1]).encode("utf-8-sig")
    r = c.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(data), "acts.csv")})
    assert r.status_code == 201 and r.get_json() == {"created": 2}
    # the same file again: both codes exist → row errors, nothing imported
    r = c.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(data), "acts.csv")})
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.get_json()["errors"]] == [(2, "code"), (3, "code")]
    assert n_activities(services) == 2

    df = pd.DataFrame([
        {"kind": "moot_court", "title": "模拟法庭", "grid_code": w["grid_codes"][2], "started_at": "2026-11-19 15:00"},
        {"kind": "nonsense", "title": "x", "grid_code": w["grid_codes"][2], "started_at": "2026-11-19 15:00"},
        {"kind": "mediation", "title": "调解", "grid_code": "G99", "started_at": "2026-11-19 15:00"},
        {"kind": "mediation", "title": "调解", "grid_code": w["grid_codes"][2], "started_at": "not a time"},
    ])
    buf = io.BytesIO()
    df.to_excel(buf, index=False)
    r = c.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(buf.getvalue()), "a.xlsx")})
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.get_json()["errors"]] == [(3, "kind"), (4, "grid_code"),
                                                                        (5, "started_at")]
    assert n_activities(services) == 2
    bad = c.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")})
    assert bad.status_code == 400 and "missing column" in bad.get_json()["error"]["message"]


def test_indicators_endpoint_levels(district):
    app, services, w = district
    c = app.test_client()
    for level, n in [("street", 1), ("community", 2), ("grid", 9)]:
        r = c.get(f"/api/v1/governance/indicators?level={level}&day=2026-11-20")
        assert r.status_code == 200
        body = r.get_json()
        assert len(body["rows"]) == n and len(body["indicators"]) >= 10
        assert set(body["rows"][0]["scores"]) == {"party", "law", "virtue", "self", "smart"}
    en = c.get("/api/v1/governance/indicators?lang=en").get_json()
    assert en["indicators"][0]["name"] == "Party members per 100 households"
    assert c.get("/api/v1/governance/indicators?level=planet").status_code == 400
    assert c.get("/api/v1/governance/indicators?day=2026-13-01").status_code == 400
    one = c.get(f"/api/v1/governance/indicators?level=grid&community_id={w['community_ids'][0]}").get_json()
    assert len(one["rows"]) == 3
