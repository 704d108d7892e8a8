"""Indicators against hand-computed values: weekend and holiday crossing, rework, onsite, void."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from dashboard.models import Grid, Worker

from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.indicators import compute_indicators
from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar
from tests.utils.factories import grid_center, make_district


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


@pytest.fixture
def world(app_services):
    _, services = app_services
    cal = WorkCalendar.official()
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    with services.db.write() as s:
        g0, g4 = s.scalar(select(Grid).where(Grid.code == "G00")), s.scalar(select(Grid).where(Grid.code == "G11"))
        w1, w2 = s.scalars(select(Worker).order_by(Worker.code)).all()
        ids = {}

        def new(cat, grid, t, onsite=False, reporter=w1):
            lat, lon = grid_center(grid)
            c, _ = report_case(s, CaseReport(category_code=cat, lat=lat, lon=lon, onsite=onsite,
                                             reporter_worker_id=reporter.id), locator=services.locator, now=t)
            return c

        def walk(c, steps, worker=w1):
            for action, t in steps:
                transition(s, c, action, actor="t", worker_id=worker.id if action == "dispatch" else None,
                           note="x", calendar=cal, now=t)

        # A: crosses a weekend. 0101 = 4 working hours; dispatched Fri 16:00 → 1.5 h Fri + 2.5 h Mon → Mon 11:00
        a = new("0101", g0, sh(2026, 11, 27, 15, 50))
        walk(a, [("dispatch", sh(2026, 11, 27, 16)), ("acknowledge", sh(2026, 11, 27, 16, 5)),
                 ("feedback", sh(2026, 11, 30, 9)), ("approve", sh(2026, 11, 30, 10))])
        # B: crosses the National Day holiday. Wed 30 Sep 17:00 → 0.5 h, then Thu 8 Oct 8:30+3.5 h = 12:00
        b = new("0101", g0, sh(2026, 9, 30, 16, 30))
        walk(b, [("dispatch", sh(2026, 9, 30, 17)), ("acknowledge", sh(2026, 10, 8, 9)),
                 ("feedback", sh(2026, 10, 8, 14, 30)), ("reject", sh(2026, 10, 8, 14, 40)),
                 ("acknowledge", sh(2026, 10, 8, 14, 45)), ("feedback", sh(2026, 10, 8, 14, 55)),
                 ("approve", sh(2026, 10, 8, 15))])
        # C: handled on the spot by worker 2 in grid 4
        new("0101", g4, sh(2026, 11, 3, 10), onsite=True, reporter=w2)
        # D: void — counts nowhere
        dcase = new("0601", g4, sh(2026, 11, 3, 11), reporter=w2)
        walk(dcase, [("void", sh(2026, 11, 3, 12))])
        # E: 0401 (2 h), dispatched Mon 2 Nov 9:00 to worker 2 → due 11:00; still open → due, not closed
        e = new("0401", g4, sh(2026, 11, 2, 8, 50), reporter=w2)
        walk(e, [("dispatch", sh(2026, 11, 2, 9))], worker=w2)
        ids["due"] = {"a": a.sla_due_at, "b": b.sla_due_at, "e": e.sla_due_at}
    return services, ids, cal


def test_sla_deadlines_cross_weekend_and_holiday(world):
    _, ids, _ = world
    assert ids["due"]["a"] == sh(2026, 11, 30, 11)
    assert ids["due"]["b"] == sh(2026, 10, 8, 12)
    assert ids["due"]["e"] == sh(2026, 11, 2, 11)


def test_street_indicators_match_hand_computed(world):
    services, ids, cal = world
    with services.db.read() as s:
        [row] = compute_indicators(s, level="street", start=sh(2026, 9, 1), end=sh(2026, 12, 1), calendar=cal)
    # due: A, B, E; closed: A (on time), B (late, 15:00 > 12:00)
    assert (row["due"], row["closed"], row["closed_on_time"]) == (3, 2, 1)
    assert row["closure_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # checks: A approved, B rejected once then approved → 1 of 2 reworked
    assert (row["checked"], row["reworked"], row["rework_rate"]) == (2, 1, 0.5)
    # reported: A, B, C, E (D void); onsite: C
    assert (row["reported"], row["onsite"], row["onsite_rate"]) == (4, 1, 0.25)
    # handling: A Fri 16:00 → Mon 10:00 = 66 h clock, 1.5 + 1.5 = 3 working h;
    #           B 30 Sep 17:00 → 8 Oct 15:00 = 190 h clock, 0.5 + 3.5 + 1 = 5 working h
    assert row["avg_handling_hours"] == pytest.approx((66 + 190) / 2)
    assert row["avg_handling_work_hours"] == pytest.approx((3 + 5) / 2)


def test_breakdowns_by_worker_grid_community_category(world):
    services, ids, cal = world
    kw = dict(start=sh(2026, 9, 1), end=sh(2026, 12, 1), calendar=cal)
    with services.db.read() as s:
        by_worker = {r["code"]: r for r in compute_indicators(s, level="worker", **kw)}
        by_grid = {r["code"]: r for r in compute_indicators(s, level="grid", **kw)}
        by_comm = {r["code"]: r for r in compute_indicators(s, level="community", **kw)}
        by_cat = {r["code"]: r for r in compute_indicators(s, level="category", **kw)}
    assert by_worker["W1"]["name"] == "张*" and by_worker["W1"]["due"] == 2 and by_worker["W1"]["closed"] == 2
    assert by_worker["W2"]["due"] == 1 and by_worker["W2"]["closed"] == 0 and by_worker["W2"]["closure_rate"] == 0
    assert by_worker["W2"]["onsite_rate"] == 0.5 and by_worker["W2"]["rework_rate"] is None
    assert by_grid["G00"]["on_time_rate"] == 0.5 and by_grid["G11"]["reported"] == 2
    assert by_comm["S1C1"]["due"] == 2 and by_comm["S1C2"]["due"] == 1
    assert by_cat["0101"]["due"] == 2 and by_cat["0401"]["due"] == 1 and "0601" not in by_cat


def test_period_boundaries(world):
    services, _, cal = world
    with services.db.read() as s:
        # November only: A (due 30 Nov) and E (due 2 Nov); B is October
        [nov] = compute_indicators(s, level="street", start=sh(2026, 11, 1), end=sh(2026, 12, 1), calendar=cal)
        # A closed early relative to a period ending before its deadline: counted where it closes
        [early] = compute_indicators(s, level="street", start=sh(2026, 11, 30, 0), end=sh(2026, 11, 30, 10, 30),
                                     calendar=cal)
        [empty] = compute_indicators(s, level="street", start=sh(2025, 1, 1), end=sh(2025, 2, 1), calendar=cal)
    assert (nov["due"], nov["closed"], nov["reported"]) == (2, 1, 3)
    assert (early["due"], early["closed"], early["closed_on_time"]) == (1, 1, 1)
    assert empty["due"] == 0 and empty["closure_rate"] is None
