"""The leader's figures (issue 29) computed by hand on a small street, against the page, the PDF and the Excel.

The street is tests/utils/factories.make_district (3×3 grids of ~185×222 m, two workers). Each test writes
a few cases and fixes through the real services and checks the figure it computed by hand.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from dashboard.models import Grid, Worker
from dashboard.services.briefing import briefing
from dashboard.services.cases import CaseReport, report_case
from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar
from tests.utils.factories import make_district

DAY = date(2026, 11, 25)  # a Wednesday
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=SHANGHAI)
CAL = WorkCalendar.official()


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


@pytest.fixture
def street(tmp_path):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import make_settings

    _, services = create_app(make_settings(f"sqlite:///{tmp_path / 'leader.db'}", tmp_path))
    migrate(services.db.engine)
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    yield services
    services.shutdown()


def report(services, day: date, hh: int, *, grid: str = "G00", onsite: bool = False):
    with services.db.write() as s:
        g = s.scalar(select(Grid).where(Grid.code == grid))
        w = s.scalar(select(Worker).where(Worker.code == "W1"))
        c, _ = report_case(s, CaseReport(category_code="0601", lat=g.centroid_lat, lon=g.centroid_lon, onsite=onsite,
                                         reporter_worker_id=w.id), locator=services.locator, now=at(day, hh))
        return c.id


def figures(services, day: date = DAY, cid=None) -> dict:
    with services.db.read() as s:
        return briefing(s, day=day, community_id=cid, calendar=CAL, now=NOW)


def page_text(services, b: dict, lang: str = "zh-CN") -> str:
    """The text a person reads on /briefing for these figures (the Dash components flattened)."""
    from layouts.briefing import render_content

    out: list[str] = []

    def walk(node) -> None:
        if node is None or isinstance(node, (bool, int, float)):
            if isinstance(node, (int, float)) and not isinstance(node, bool):
                out.append(str(node))
            return
        if isinstance(node, str):
            out.append(node)
            return
        if isinstance(node, (list, tuple)):
            for n in node:
                walk(n)
            return
        walk(getattr(node, "children", None))

    walk(render_content(b, lang, services))
    return " ".join(out)


# --- 1. comparisons only where there is something to compare -----------------------------------------

def test_no_comparison_without_data(street):
    """Three cases on DAY and nothing before: yesterday and last week have no data → 无可比数据, no arrow."""
    for hh in (9, 10, 11):
        report(street, DAY, hh)
    b = figures(street)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"] == {"yesterday": False, "last_week": False}
    assert k["reported"]["value"] == 3
    assert k["reported"]["yesterday"] is None and k["reported"]["delta_day"] is None
    assert k["reported"]["last_week"] is None and k["reported"]["delta_week"] is None
    text = page_text(street, b)
    assert "较昨日无可比数据，较上周同期无可比数据" in text
    assert "增加 3 件" not in text and "▲" not in text and "▼" not in text
    assert text.count("无可比数据") >= 2 * 9  # both lines of every KPI card
    assert b["hourly"]["reported_yesterday"] is None


def test_comparison_with_data(street):
    """One case yesterday, two the same weekday last week, three today: +2 and +1, arrows up."""
    report(street, DAY - timedelta(days=1), 9)
    for hh in (9, 10):
        report(street, DAY - timedelta(days=7), hh)
    for hh in (9, 10, 11):
        report(street, DAY, hh)
    b = figures(street)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"] == {"yesterday": True, "last_week": True}
    assert (k["reported"]["yesterday"], k["reported"]["last_week"]) == (1, 2)
    assert (k["reported"]["delta_day"], k["reported"]["delta_week"]) == (2, 1)
    text = page_text(street, b)
    assert "较昨日增加 2 件（+200.0%），较上周同期增加 1 件（+50.0%）" in text
    assert "▲ 2" in text and "▲ 1" in text


def test_community_with_no_case_still_compares(street):
    """The street ran yesterday (a case in 一社区): 二社区's zero yesterday is a figure, not missing data."""
    report(street, DAY - timedelta(days=1), 9, grid="G00")  # 一社区
    report(street, DAY, 9, grid="G11")  # 二社区
    with street.db.read() as s:
        from dashboard.models import Community
        c2 = s.scalar(select(Community.id).where(Community.code == "S1C2"))
    b = figures(street, cid=c2)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"]["yesterday"] is True
    assert (k["reported"]["value"], k["reported"]["yesterday"], k["reported"]["delta_day"]) == (1, 0, 1)
