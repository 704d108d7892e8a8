"""The demo street has residents (issue 31): its recent history holds resident reports with tickets and answers,
visits and notices, so the satisfaction figures of a fresh ``python run.py`` are not empty; and the live simulator
files a resident's report through the /r service path, works it through the loop and the resident answers."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from dashboard.models import Case, CaseLog, Notice, ResidentTicket, Visit
from dashboard.services import satisfaction
from dashboard.services.briefing import briefing
from dashboard.timeutil import local_day_bounds
from dashboard.workcal import WorkCalendar
from tests.conftest import ROOT, make_settings

TODAY = date(2026, 11, 26)   # a Thursday; the history day is the Monday before (a notice day)
DAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # Wednesday 10:00 Asia/Shanghai, the day shift on


def _services(tmp_path, name: str):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from dashboard.services.importers import load_demo

    _, services = create_app(make_settings(f"sqlite:///{tmp_path / (name + '.db')}", tmp_path / name))
    migrate(services.db.engine)
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu", end_on=TODAY - timedelta(days=1))
    services.reload_grids()
    return services


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    from dashboard.demodata.recent import seed_recent

    services = _services(tmp_path_factory.mktemp("res_demo"), "h")
    with services.db.write() as s:
        counts = seed_recent(s, today=TODAY, only=DAY, cases_per_day=80, calendar=WorkCalendar.official())
    yield services, counts
    services.shutdown()


def test_history_day_has_resident_reports_answers_visits_and_a_notice(history):
    services, counts = history
    assert counts["resident_tickets"] >= 5 and counts["resident_answers"] >= 1
    assert counts["visits"] > 0 and counts["notices"] == 1
    with services.db.read() as s:
        n_cases = s.scalar(select(func.count()).select_from(Case))
        rows = s.execute(select(ResidentTicket, Case).join(Case, Case.id == ResidentTicket.case_id)).all()
        assert 0.05 * n_cases <= len(rows) <= 0.2 * n_cases
        codes = set()
        for t, c in rows:
            assert c.source == "resident" and c.reporter_worker_id is None
            assert t.grid_id == c.grid_id and t.community_id == c.community_id
            assert t.phone is None or (t.phone.startswith("139") and len(t.phone) == 11)
            assert t.tracking_code.startswith("R") and len(t.tracking_code) == 9
            codes.add(t.tracking_code)
            if t.first_response_at is not None:
                assert t.first_response_at == c.dispatched_at
            if t.satisfaction is not None:
                assert t.satisfaction_at is not None and t.satisfaction_at < local_day_bounds(TODAY)[0]
                assert t.reworked == (t.satisfaction == "unsatisfied")
                actions = [a for (a,) in s.execute(select(CaseLog.action).where(CaseLog.case_id == c.id))]
                assert "resident_rating" in actions
                assert ("resident_reopen" in actions) == t.reworked
                if t.reworked:
                    assert c.rework_count == 1
        assert len(codes) == len(rows)
        visits = s.scalars(select(Visit)).all()
        assert all(v.needs or v.opinions or v.follow_up for v in visits)
        assert all((v.whom or v.place) and v.grid_id and v.community_id for v in visits)
        notice = s.scalar(select(Notice))
        assert notice.title and notice.scope in ("street", "community", "grid")
        # the leader's figures are no longer empty
        fig = satisfaction.for_day(s, TODAY - timedelta(days=1))
        b = briefing(s, day=TODAY - timedelta(days=1), calendar=WorkCalendar.official(),
                     now=local_day_bounds(TODAY)[0] + timedelta(hours=9))
    total = fig["total"]
    assert total["reports"] == len(rows) and total["answered"] >= 1
    assert total["response_median_min"] is not None and total["satisfied_share"] is not None
    assert b["satisfaction"]["total"]["reports"] == len(rows)


def test_history_day_is_deterministic(history, tmp_path):
    """The residents' rows come from their own stream: a second street written for the same day is identical."""
    from dashboard.demodata.recent import seed_recent

    services = _services(tmp_path, "d")
    try:
        with services.db.write() as s:
            counts = seed_recent(s, today=TODAY, only=DAY, cases_per_day=80, calendar=WorkCalendar.official())
        with services.db.read() as s:
            mine = sorted(s.execute(select(ResidentTicket.tracking_code, ResidentTicket.satisfaction)).all())
    finally:
        services.shutdown()
    with history[0].db.read() as s:
        theirs = sorted(s.execute(select(ResidentTicket.tracking_code, ResidentTicket.satisfaction)).all())
    assert counts["resident_tickets"] == len(mine) > 0 and mine == theirs


def test_simulator_resident_reports_and_answers(history):
    """On the history street (its day lies before the simulated one): a resident's report from /r's service path,
    the simulated center's loop, the resident's answer, and visits, with the clock pinned."""
    from dashboard.simulator import Simulator

    services, _ = history
    start = local_day_bounds(T0.date())[0]  # the simulated day's rows only (the history day is the 23rd)
    with services.db.read() as s:
        sim = Simulator.from_db(s, seed=11, speed=200, cases_per_day=0)
    sim.residents.per_day = 60  # a few reports in the first ticks, then none
    for i in range(40):
        now = T0 + timedelta(seconds=10 * i)
        if i == 3:
            sim.residents.per_day = 0
        sim.apply(sim.plan(now), db=services.db, locator=services.locator, calendar=services.calendar, now=now)
    with services.db.read() as s:
        rows = s.execute(select(ResidentTicket, Case).join(Case, Case.id == ResidentTicket.case_id)
                         .where(ResidentTicket.created_at >= start)).all()
        n_visits = s.scalar(select(func.count()).select_from(Visit).where(Visit.at >= start))
        rated = s.scalar(select(func.count()).select_from(CaseLog).where(
            CaseLog.action == "resident_rating", CaseLog.case_id.in_([c.id for _, c in rows])))
    assert rows, "no resident report"
    assert all(c.source == "resident" and c.idempotency_key.startswith("simr-11-") for _, c in rows)
    assert any(t.first_response_at is not None for t, _ in rows)
    assert any(c.state == "closed" or t.reworked for t, c in rows)
    answered = [t for t, _ in rows if t.satisfaction]
    assert answered and rated == len(answered)
    assert n_visits > 0
