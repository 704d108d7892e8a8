"""Cases through the domain services: report, idempotency, location handling, the state machine, the SLA clock."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.geo.coords import wgs84_to_gcj02
from dashboard.geo.distance import haversine_m
from dashboard.models import Case, CaseState, Dispatch, Worker
from dashboard.services.cases import (TRANSITIONS, CaseError, CaseReport, IllegalTransition, report_case,
                                      transition)
from dashboard.timeutil import SHANGHAI, as_utc
from tests.utils.factories import grid_center, make_district

# the path from 'reported' to each state: (action, needs a worker)
PATH = {
    "reported": [],
    "registered": ["register"],
    "dispatched": ["register", "dispatch"],
    "handling": ["register", "dispatch", "acknowledge"],
    "feedback": ["register", "dispatch", "acknowledge", "arrive", "feedback"],
    "closed": ["register", "dispatch", "acknowledge", "arrive", "feedback", "approve"],
    "void": ["void"],
}


@pytest.fixture
def world(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        ids = {"grids": [g.id for g in w["grids"]], "workers": [x.id for x in w["workers"]],
               "centers": [grid_center(g) for g in w["grids"]]}
    services.reload_grids()
    return services, ids


def _report(services, ids, **kw) -> int:
    lat, lon = ids["centers"][4]
    kw.setdefault("lat", lat)
    kw.setdefault("lon", lon)
    with services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code=kw.pop("category_code", "0101"), description="测试", **kw),
                           locator=services.locator)
        return c.id


def _act(services, case_id: int, action: str, ids, **kw) -> str:
    if action in ("dispatch", "redispatch"):
        kw.setdefault("worker_id", ids["workers"][1])
    if action == "void":
        kw.setdefault("note", "重复上报")
    with services.db.write() as s:
        c = transition(s, s.get(Case, case_id), action, actor="测试调度员", calendar=services.calendar, **kw)
        return c.state


def _case_in(services, ids, state: str) -> int:
    cid = _report(services, ids)
    for action in PATH[state]:
        _act(services, cid, action, ids)
    with services.db.read() as s:
        assert s.get(Case, cid).state == state
    return cid


def test_onsite_report_is_closed_and_escalated_report_waits(world):
    services, ids = world
    onsite = _report(services, ids, onsite=True, reporter_worker_id=ids["workers"][1])
    escalated = _report(services, ids, onsite=False, reporter_worker_id=ids["workers"][1])
    with services.db.read() as s:
        c1, c2 = s.get(Case, onsite), s.get(Case, escalated)
        assert (c1.state, c1.handled_onsite, c1.closed_at is not None) == ("closed", True, True)
        assert [e.action for e in c1.timeline] == ["report", "onsite"]
        assert (c2.state, c2.handled_onsite, c2.closed_at) == ("reported", False, None)
        assert [e.action for e in c2.timeline] == ["report"]
        assert c1.grid_id == c2.grid_id == ids["grids"][4]
        assert c1.code != c2.code


def test_idempotency_key_returns_the_first_case(world):
    services, ids = world
    lat, lon = ids["centers"][0]
    with services.db.write() as s:
        a, created_a = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon, idempotency_key="k-1"),
                                   locator=services.locator)
    with services.db.write() as s:
        b, created_b = report_case(s, CaseReport(category_code="0401", lat=lat, lon=lon, idempotency_key="k-1"),
                                   locator=services.locator)
        assert (created_a, created_b) == (True, False)
        assert a.id == b.id and b.category_code == "0101"
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_point_outside_the_street_is_kept_and_flagged(world):
    services, ids = world
    cid = _report(services, ids, lat=34.40, lon=109.10)
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert c.outside is True and c.grid_id is None and c.community_id is None
        assert (c.lat, c.lon) == (34.40, 109.10)


def test_gcj02_input_is_stored_as_wgs84(world):
    services, ids = world
    lat, lon = ids["centers"][2]
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert haversine_m(lat, lon, glat, glon) > 100  # the offset is real, so the test can fail
    cid = _report(services, ids, lat=float(glat), lon=float(glon), crs="gcj02")
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert haversine_m(c.lat, c.lon, lat, lon) < 1.0
        assert c.grid_id == ids["grids"][2] and not c.outside


def test_bad_input_names_the_field(world):
    services, ids = world
    with pytest.raises(CaseError) as e:
        _report(services, ids, category_code="9999")
    assert e.value.field == "category_code"
    with pytest.raises(CaseError) as e:
        _report(services, ids, lat=95.0)
    assert e.value.field == "lat"
    with pytest.raises(CaseError) as e:
        _report(services, ids, lat=None)
    assert e.value.field == "lat"


STATES = [s.value for s in CaseState]
LEGAL = [(a, frm) for a, (allowed, _) in TRANSITIONS.items() for frm in sorted(allowed)]
ILLEGAL = [(a, frm) for a, (allowed, _) in TRANSITIONS.items() for frm in STATES if frm not in allowed]


def test_every_legal_transition(world):
    """Each action from each state TRANSITIONS allows leads to its target state and is logged."""
    services, ids = world
    assert len(LEGAL) >= 20
    for action, frm in LEGAL:
        cid = _case_in(services, ids, frm)
        allowed, target = TRANSITIONS[action]
        got = _act(services, cid, action, ids)
        assert got == (target if target is not None else frm), (action, frm)
        with services.db.read() as s:
            c = s.get(Case, cid)
            last = c.timeline[-1]
            assert (last.action, last.from_state, last.to_state) == (action, frm, got)
            if action == "escalate":
                assert c.level == "community"
            if action == "reject":
                assert c.rework_count == 1
                assert s.get(Worker, ids["workers"][1]).duty_state == "dispatched"  # back to the same hands
            if action == "void":  # nobody stays dispatched to a void case
                open_ = s.scalars(select(Dispatch).where(Dispatch.case_id == cid,
                                                         Dispatch.state.in_(("sent", "acknowledged", "arrived"))))
                assert list(open_) == []
            if action == "approve":
                assert c.closed_at is not None
        if action == "void":
            with services.db.write() as s:  # release the worker for the next round
                s.get(Worker, ids["workers"][1]).duty_state = "available"


def test_illegal_transitions_raise_and_change_nothing(app_services):
    """Every action from every state it does not allow raises IllegalTransition (one world, one case per state)."""
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        ids = {"grids": [g.id for g in w["grids"]], "workers": [x.id for x in w["workers"]],
               "centers": [grid_center(g) for g in w["grids"]]}
    services.reload_grids()
    cases = {st: _case_in(services, ids, st) for st in STATES}
    assert ILLEGAL
    for action, frm in ILLEGAL:
        with pytest.raises(IllegalTransition):
            _act(services, cases[frm], action, ids)
        with services.db.read() as s:
            assert s.get(Case, cases[frm]).state == frm
    # escalation stops at street level
    cid = cases["reported"]
    assert _act(services, cid, "escalate", ids) == "reported"
    assert _act(services, cid, "escalate", ids) == "reported"
    with pytest.raises(IllegalTransition):
        _act(services, cid, "escalate", ids)
    with pytest.raises(CaseError):
        _act(services, cid, "fly", ids)


def test_sla_due_counts_working_hours_from_the_first_dispatch(world):
    services, ids = world
    cid = _report(services, ids, category_code="0101")  # 4 working hours
    fri = datetime(2026, 11, 27, 16, 30, tzinfo=SHANGHAI)
    with services.db.write() as s:
        c = s.get(Case, cid)
        transition(s, c, "dispatch", actor="调度", worker_id=ids["workers"][0], calendar=services.calendar, now=fri)
    with services.db.write() as s:
        c = s.get(Case, cid)
        # 1 h on Friday (till 17:30), then Monday 08:30 + 3 h
        assert c.sla_due_at == as_utc(datetime(2026, 11, 30, 11, 30, tzinfo=SHANGHAI))
        assert c.dispatched_at == as_utc(fri)
        transition(s, c, "redispatch", actor="调度", worker_id=ids["workers"][1], calendar=services.calendar,
                   now=datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert c.sla_due_at == as_utc(datetime(2026, 11, 30, 11, 30, tzinfo=SHANGHAI))  # the clock keeps running
        assert c.assigned_worker_id == ids["workers"][1]
        assert s.get(Worker, ids["workers"][0]).duty_state == "available"
    # across the National Day holiday: dispatched 30 Sep 17:00, 0601 has 24 working hours
    cid = _report(services, ids, category_code="0601")
    with services.db.write() as s:
        c = transition(s, s.get(Case, cid), "dispatch", actor="调度", department="城管",
                       calendar=services.calendar, now=datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI))
        due = c.sla_due_at
    assert services.calendar.working_hours_between(datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI), due) == 24
    assert due.astimezone(SHANGHAI).date() > datetime(2026, 10, 7).date()
