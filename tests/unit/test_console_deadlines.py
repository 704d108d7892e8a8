"""Deadlines that match the emergency (issue 27 item 3): a category's clock is natural hours (urgent: 火情,
人员受伤, 燃气隐患 …, from the report, around the clock) or working hours on the Chinese working calendar (from the
first dispatch). Reported (and dispatched) at 06:14 on a workday and on the eve of the National Day holiday.

Worked by hand on the 2026 schedule: office hours 08:30–12:00 and 14:00–17:30; 2026-12-07 is a Monday;
2026-09-30 (Wednesday) is a workday before 国庆节 (10-01 … 10-07), work resumes on Thursday 10-08.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from dashboard.models import Category
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.timeutil import SHANGHAI, as_utc
from dashboard.workcal import WorkCalendar
from tests.utils.factories import grid_center, make_district


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


@pytest.fixture
def world(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        s.add(Category(code="0701", name="火情", major_code="07", major_name="突发事件", time_limit_hours=1,
                       default_priority=1, clock="natural"))
        s.add(Category(code="0102", name="乱堆物料", major_code="01", major_name="市容环境", time_limit_hours=8,
                       default_priority=3, clock="working"))
        ids = {"center": grid_center(w["grids"][4]), "worker": w["workers"][0].id}
    services.reload_grids()
    return services, ids


CAL = WorkCalendar.official(today=sh(2026, 12, 7).date())


@pytest.mark.parametrize("day, urgent_due, ordinary_due", [
    (sh(2026, 12, 7, 6, 14), sh(2026, 12, 7, 7, 14), sh(2026, 12, 8, 9, 30)),    # a Monday
    (sh(2026, 9, 30, 6, 14), sh(2026, 9, 30, 7, 14), sh(2026, 10, 8, 9, 30)),    # the eve of 国庆节
])
def test_deadline_at_0614(world, day, urgent_due, ordinary_due):
    services, ids = world
    lat, lon = ids["center"]
    due = {}
    with services.db.write() as s:
        for code in ("0701", "0102"):
            c, _ = report_case(s, CaseReport(category_code=code, lat=lat, lon=lon), locator=services.locator, now=day)
            if code == "0701":  # urgent: due from the report, before anyone dispatched it
                assert as_utc(c.sla_due_at) == as_utc(urgent_due)
            else:  # ordinary: no clock before the dispatch
                assert c.sla_due_at is None
            transition(s, c, "dispatch", actor="调度", worker_id=ids["worker"], calendar=CAL, now=day)
            due[code] = as_utc(c.sla_due_at)
    assert due["0701"] == as_utc(urgent_due)      # 07:14, not 09:30
    assert due["0102"] == as_utc(ordinary_due)    # 8 working hours: 3.5 + 3.5 today, 1 h on the next workday


def test_categories_api_shows_and_edits_the_clock(world, app_services):
    from tests.api.conftest import make_key

    app, services = app_services
    c = app.test_client()
    admin = {"Authorization": f"Bearer {make_key(services, 'admin')}"}
    items = {x["code"]: x for x in c.get("/api/v1/categories", headers=admin).get_json()["items"]}
    assert items["0701"]["clock"] == "natural" and items["0102"]["clock"] == "working"
    r = c.patch("/api/v1/categories/0102", json={"clock": "sometimes"}, headers=admin)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "clock"
    r = c.patch("/api/v1/categories/0102", json={"clock": "natural"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["clock"] == "natural"


def test_demo_catalogue_clocks():
    """The demo street's urgent categories count natural hours; the rest working hours."""
    import pandas as pd

    from dashboard.demodata.city import CATEGORIES_CSV

    cats = pd.read_csv(CATEGORIES_CSV, dtype=str).set_index("minor_name")["clock"]
    assert {cats[n] for n in ("火情", "人员受伤", "燃气隐患")} == {"natural"}
    assert {cats[n] for n in ("暴露垃圾", "政策咨询", "路灯损坏")} == {"working"}
