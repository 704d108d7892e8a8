"""Triage from the console (issue 27 item 2): the best-guess category, changing a case's category (its deadline
follows the new clock), placing a case found outside the street in a grid by hand, before/after photo stages."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dashboard.models import AuditLog, Case, Category
from dashboard.services.cases import CaseReport, report_case
from dashboard.timeutil import SHANGHAI, as_utc
from tests.api.conftest import make_key


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def add_fire(services) -> None:
    with services.db.write() as s:
        s.add(Category(code="0701", name="火情", major_code="07", major_name="突发事件", time_limit_hours=1,
                       default_priority=1, clock="natural", keywords="起火;冒烟;火情"))


def test_guess_from_text_and_kind(district):
    app, services, _ = district
    add_fire(services)
    c = app.test_client()
    h = bearer(make_key(services, "dispatcher"))
    assert c.get("/api/v1/categories/guess?text=三楼窗口冒烟，疑似起火", headers=h).get_json()["code"] == "0701"
    assert c.get("/api/v1/categories/guess?kind=smoke_alarm", headers=h).get_json()["code"] == "0701"
    assert c.get("/api/v1/categories/guess?text=今天天气不错", headers=h).get_json()["code"] is None


def test_triage_changes_category_and_deadline(district):
    app, services, world = district
    add_fire(services)
    t0 = datetime(2026, 12, 7, 6, 14, tzinfo=SHANGHAI)
    services.clock = lambda: t0
    lat, lon = world["centers"][4]
    with services.db.write() as s:
        case, _ = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon, description="楼道冒烟",
                                            source="operator"), locator=services.locator, now=t0)
        cid = case.id
    c = app.test_client()
    h = bearer(make_key(services, "dispatcher"))
    view = c.get(f"/api/v1/cases/{cid}/view", headers=h).get_json()
    assert view["category_code"] == "0101" and view["category_guess"] == "0701" and view["sla_due_at"] is None
    r = c.post(f"/api/v1/cases/{cid}/triage", json={"category_code": "9999"}, headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "category_code"
    assert c.post(f"/api/v1/cases/{cid}/triage", json={}, headers=h).status_code == 400
    r = c.post(f"/api/v1/cases/{cid}/triage", json={"category_code": "0701"}, headers=h)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["category"] == "火情" and out["priority"] == 1
    assert out["timeline"][-1]["action"] == "recategorize"
    with services.db.read() as s:
        assert as_utc(s.get(Case, cid).sla_due_at) == as_utc(datetime(2026, 12, 7, 7, 14, tzinfo=SHANGHAI))
        assert s.scalar(select(AuditLog.action).where(AuditLog.target == f"case:{cid}")) == "case_triage"


def test_outside_case_flagged_and_assigned_by_hand(district):
    app, services, world = district
    lat, lon = world["centers"][0]
    with services.db.write() as s:  # ~1.1 km south of the district's first grid
        case, _ = report_case(s, CaseReport(category_code="0101", lat=lat - 0.01, lon=lon),
                              locator=services.locator)
        cid = case.id
        assert case.outside and case.grid_id is None
    c = app.test_client()
    h = bearer(make_key(services, "dispatcher"))
    view = c.get(f"/api/v1/cases/{cid}/view", headers=h).get_json()
    assert view["outside"] and 500 < view["outside_m"] < 2000 and view["nearest_grid_id"] in world["grid_ids"]
    assert view["nearest_grid_name"]
    c1, c2 = world["community_ids"]
    other = bearer(make_key(services, "dispatcher", community_id=c1))
    with services.db.read() as s:
        from dashboard.models import Grid
        g2 = s.scalar(select(Grid.id).where(Grid.community_id == c2))
    r = c.post(f"/api/v1/cases/{cid}/triage", json={"grid_id": g2}, headers=other)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "grid_id"
    r = c.post(f"/api/v1/cases/{cid}/triage", json={"grid_id": view["nearest_grid_id"]}, headers=h)
    assert r.status_code == 200
    out = r.get_json()
    assert out["grid_id"] == view["nearest_grid_id"] and out["community_id"] is not None
    assert out["outside"] and out["timeline"][-1]["action"] == "assign_grid"
    assert c.post(f"/api/v1/cases/{cid}/triage", json={"grid_id": "x"}, headers=h).status_code == 400


def test_mouse_patrol_issue_takes_its_category_from_the_note(district):
    """A 发现问题 on a mouse-patrol stop without a category: the note decides (消防通道 → 消防通道堵塞); a note that
    says nothing leaves the case marked 'category to confirm' for triage — never silently 暴露垃圾."""
    app, services, w = district
    with services.db.write() as s:  # the demo catalogue's keywords
        s.get(Category, "0401").keywords = "消防通道;堵塞;占用"
    c = app.test_client()  # the demo operator, as the patrol page speaks
    g = w["grid_ids"]
    t = c.post("/api/v1/tours", json={"name": "巡逻", "stops": [{"grid_id": g[i], "dwell_s": 2} for i in (0, 1)]})
    t = t.get_json()
    assert c.post(f"/api/v1/tours/{t['id']}/start").status_code == 200
    r = c.post(f"/api/v1/tours/{t['id']}/stops/0", json={"result": "issue", "note": "消防通道被电动车堵塞"})
    first = r.get_json()["case"]
    assert first["category_code"] == "0401" and first["category_unconfirmed"] is False
    r = c.post(f"/api/v1/tours/{t['id']}/stops/1", json={"result": "issue", "note": "画面里有情况"})
    second = r.get_json()["case"]
    assert second["category_unconfirmed"] is True
    h = bearer(make_key(services, "dispatcher"))
    out = c.post(f"/api/v1/cases/{second['id']}/triage", json={"category_code": "0601"}, headers=h).get_json()
    assert out["category_code"] == "0601" and out["category_unconfirmed"] is False
