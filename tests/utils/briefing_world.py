"""A seeded world for the briefing tests: days of cases through the real services, fixes, patrols, alerts."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from dashboard.models import Grid, Patrol, PatrolStopLog, Worker
from dashboard.services import alerts as alert_svc
from dashboard.services import workers as worker_svc
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar

from .factories import make_district

NORMAL_DAY = date(2026, 11, 25)    # a Wednesday
HOLIDAY_DAY = date(2026, 10, 1)    # National Day: SLA clocks stop
EMPTY_DAY = date(2026, 8, 3)       # before any data
DAYS = [date(2026, 9, 24), date(2026, 9, 30), HOLIDAY_DAY, date(2026, 10, 2), date(2026, 11, 18),
        date(2026, 11, 24), NORMAL_DAY]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=SHANGHAI)


def at(day: date, minutes: float) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(minutes=minutes)


def build_world(services, *, seed: int = 7, per_day: int = 14) -> dict:
    """Fill the database; returns the ids the tests need."""
    rng = random.Random(seed)
    cal = WorkCalendar.official()
    with services.db.write() as s:
        make_district(s)
        s.add(Worker(code="W3", name="王小明", phone="13700001111", device_id="DEV3", shift="day",
                     grid_id=s.scalar(select(Grid.id).where(Grid.code == "G22"))))
    services.reload_grids()
    with services.db.write() as s:
        grids = s.scalars(select(Grid).order_by(Grid.code)).all()
        workers = s.scalars(select(Worker).order_by(Worker.code)).all()
        cats = ["0101", "0101", "0401", "0601"]
        for day in DAYS:
            for _ in range(per_day):
                _one_case(s, services, cal, rng, day, grids, workers, cats)
            _fixes_and_patrols(s, services, rng, day, grids, workers)
            for k in range(rng.randint(1, 3)):
                g = rng.choice(grids)
                a, _ = alert_svc.raise_alert(
                    s, source="rule", kind=rng.choice(["overdue", "sos", "no_ack"]),
                    severity=rng.choice(["extreme", "severe", "moderate", "minor"]), title=f"告警 {day} #{k}",
                    grid_id=g.id, community_id=g.community_id, now=at(day, rng.uniform(0, 1439)))
                if rng.random() < 0.5:
                    alert_svc.resolve(s, a, by="t", now=a.created_at + timedelta(minutes=30))
    return {"grids": [g.id for g in grids]}


def _one_case(s, services, cal, rng, day, grids, workers, cats) -> None:
    t = at(day, rng.uniform(6 * 60, 22 * 60))
    g = rng.choice(grids)
    w = rng.choice(workers)
    onsite = rng.random() < 0.35
    c, _ = report_case(s, CaseReport(category_code=rng.choice(cats), lat=g.centroid_lat + rng.uniform(-4e-4, 4e-4),
                                     lon=g.centroid_lon + rng.uniform(-4e-4, 4e-4), onsite=onsite,
                                     reporter_worker_id=w.id), locator=services.locator, now=t)
    if onsite:
        return
    path = rng.choice(["open", "dispatched", "closed", "closed", "closed", "rework", "void"])
    if path == "open":
        return
    if path == "void":
        transition(s, c, "void", actor="t", note="重复上报", calendar=cal, now=t + timedelta(minutes=20))
        return
    t += timedelta(minutes=rng.uniform(5, 180))
    transition(s, c, "dispatch", actor="t", worker_id=rng.choice(workers).id, calendar=cal, now=t)
    if path == "dispatched":
        return
    t += timedelta(minutes=rng.uniform(2, 30))
    transition(s, c, "acknowledge", actor="t", calendar=cal, now=t)
    t += timedelta(minutes=rng.uniform(20, 60 * 40))
    transition(s, c, "feedback", actor="t", calendar=cal, now=t)
    if path == "rework":
        t += timedelta(minutes=rng.uniform(10, 60))
        transition(s, c, "reject", actor="t", note="未处理干净", calendar=cal, now=t)
        t += timedelta(minutes=5)
        transition(s, c, "acknowledge", actor="t", calendar=cal, now=t)
        t += timedelta(minutes=rng.uniform(10, 120))
        transition(s, c, "feedback", actor="t", calendar=cal, now=t)
    transition(s, c, "approve", actor="t", calendar=cal, now=t + timedelta(minutes=rng.uniform(5, 90)))


def _fixes_and_patrols(s, services, rng, day, grids, workers) -> None:
    for w in workers[:2]:  # the third worker stays at home: not active
        t0 = at(day, rng.uniform(8 * 60, 9 * 60))
        worker_svc.start_patrol(s, w, now=t0)
        fixes = []
        for k in range(rng.randint(4, 9)):
            g = rng.choice(grids[:5])  # grid 5 is never visited
            fixes.append(Fix(worker_id=w.id, fix_time=t0 + timedelta(minutes=7 * k), lat=g.centroid_lat,
                             lon=g.centroid_lon))
        # received as the walk ends: the fixes keep their own times (ingest clamps fixes stamped ahead of now)
        ingest_fixes(s, fixes, locator=services.locator, now=t0 + timedelta(minutes=7 * len(fixes)))
        p = worker_svc.end_patrol(s, w, now=t0 + timedelta(minutes=7 * len(fixes)))
        p.distance_m = rng.uniform(500, 3000)
    s.add(Patrol(kind="mouse", operator="值班员", started_at=at(day, 10 * 60), ended_at=at(day, 10 * 60 + 20),
                 grids_covered=[grids[6].id, grids[7].id]))
    s.add(PatrolStopLog(operator="值班员", at=at(day, 15 * 60), day=day, grid_id=grids[8].id, result="ok"))
    s.flush()
