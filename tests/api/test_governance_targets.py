"""五治 targets (issue 29 item 5): the street sets them through the admin API, scores follow, last month compares."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dashboard.models.governance import GovernanceActivity
from dashboard.models import AuditLog
from dashboard.timeutil import SHANGHAI
from tests.api.conftest import make_key


def test_targets_listed_set_by_admin_and_scores_follow(district):
    app, services, w = district
    c = app.test_client()
    admin, leader = make_key(services, "admin"), make_key(services, "leader")
    with services.db.write() as s:  # one legal-service visit in grid 0 (一社区) on 10 November, one on 10 October
        for code, when in (("n1", datetime(2026, 11, 10, 10, tzinfo=SHANGHAI)),
                           ("o1", datetime(2026, 10, 10, 10, tzinfo=SHANGHAI))):
            s.add(GovernanceActivity(code=code, kind="legal_education", dimension="law", title="普法",
                                     grid_id=w["grid_ids"][0], community_id=w["community_ids"][0], started_at=when))
    r = c.get("/api/v1/governance/targets", headers={"X-API-Key": leader})
    assert r.status_code == 200
    t = {x["key"]: x for x in r.get_json()["targets"]}
    assert t["legal_visits_month"]["target"] == 0.25 and t["legal_visits_month"]["target_basis"] == "grid_month"
    assert "app_fixes_per_worker_hour" not in t and {"app_active_share", "sensed_grid_share", "device_uptime"} <= set(t)

    def street(day="2026-11-30"):
        r = c.get(f"/api/v1/governance/indicators?level=street&day={day}&previous=1", headers={"X-API-Key": leader})
        return r.get_json()["rows"][0]

    # 30 November: the whole month; 9 grids → expected 0.25 × 9 = 2.25 visits; 1 visit → 44.4
    row = street()
    assert row["values"]["legal_visits_month"] == 1 and row["expected"]["legal_visits_month"] == 2.25
    assert row["indicator_scores"]["legal_visits_month"] == 44.4
    assert row["previous"]["day"] == "2026-10-31" and row["previous"]["values"]["legal_visits_month"] == 1
    assert row["previous"]["indicator_scores"]["legal_visits_month"] == 44.4
    # the admin sets one visit per grid a month: 1 of 9 → 11.1; a leader may not set it; bad input names the field
    assert c.put("/api/v1/governance/targets/legal_visits_month", json={"target": 1},
                 headers={"X-API-Key": leader}).status_code == 403
    for bad in ({}, {"target": 0}, {"target": "x"}, {"target": True}, [1]):
        r = c.put("/api/v1/governance/targets/legal_visits_month", json=bad, headers={"X-API-Key": admin})
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "target", bad
    assert c.put("/api/v1/governance/targets/nope", json={"target": 1}, headers={"X-API-Key": admin}).status_code == 404
    r = c.put("/api/v1/governance/targets/legal_visits_month", json={"target": 1}, headers={"X-API-Key": admin})
    assert r.status_code == 200 and r.get_json() == {"key": "legal_visits_month", "target": 1.0, "default": 0.25}
    row = street()
    assert row["expected"]["legal_visits_month"] == 9.0 and row["indicator_scores"]["legal_visits_month"] == 11.1
    with services.db.read() as s:
        assert s.scalar(select(AuditLog.target).where(AuditLog.action == "governance_target")) == \
            "governance_target:legal_visits_month"


def test_governance_page_table_shows_target_value_score_and_last_month(district):
    """/governance's table: for 本月法律服务 on 30 November with the default target, the street's expected 2.25,
    '1 / 44.4' this month and '1 / 44.4' last month; 一社区 (3 grids: 0.75 expected) '1 / 100'."""
    from dashboard.services.governance import panel_data
    from layouts.governance_panel import _table

    app, services, w = district
    with services.db.write() as s:
        for code, when in (("n1", datetime(2026, 11, 10, 10, tzinfo=SHANGHAI)),
                           ("o1", datetime(2026, 10, 10, 10, tzinfo=SHANGHAI))):
            s.add(GovernanceActivity(code=code, kind="legal_education", dimension="law", title="普法",
                                     grid_id=w["grid_ids"][0], community_id=w["community_ids"][0], started_at=when))
    from datetime import date

    with services.db.read() as s:
        data = panel_data(s, day=date(2026, 11, 30), previous=True)
    table = _table(data, "zh-CN")
    head = [th.children for th in table.children[0].children.children]
    assert head[:5] == ["指标", "单位", "目标（全街道）", "全街道（值 / 得分）", "上月（值 / 得分）"]
    row = next(tr for tr in table.children[1].children if tr.children[0].children == "本月法律服务")
    cells = [td.children for td in row.children]
    assert cells[2:6] == ["2.25", "1 / 44.4", "1 / 44.4", "1 / 100"]
