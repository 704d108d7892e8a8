"""The past-day briefing cache: a hit equals a fresh computation; a late edit of any kind invalidates it."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dashboard.models import Grid, Worker
from dashboard.services.briefing import briefing
from dashboard.services.briefing_cache import BriefingCache
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.workcal import WorkCalendar
from tests.utils.briefing_world import NORMAL_DAY, NOW, at, build_world


def _fresh(services, cal, day=NORMAL_DAY):
    with services.db.read() as s:
        return briefing(s, day=day, calendar=cal, now=NOW)


def _same(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k != "generated_at"} == {k: v for k, v in b.items() if k != "generated_at"}


def test_cache_hits_until_a_late_edit(app_services):
    _, services = app_services
    build_world(services, per_day=4)
    cal, cache = WorkCalendar.official(), BriefingCache()

    def cached(day=NORMAL_DAY):
        with services.db.read() as s:
            return cache.get(s, day=day, calendar=cal, now=NOW)

    b1 = cached()
    b2 = cached()
    assert (cache.misses, cache.hits) == (1, 1)
    assert b2 == b1 and b2 is not b1 and _same(b1, _fresh(services, cal))
    b2["kpis"].clear()  # the caller's copy is its own
    assert cached()["kpis"] == b1["kpis"] and cache.hits == 2

    # a case reported late for that day (an import), then voided now
    with services.db.write() as s:
        g = s.scalars(select(Grid).order_by(Grid.code)).first()
        w = s.scalars(select(Worker).order_by(Worker.code)).first()
        c, _ = report_case(s, CaseReport(category_code="0101", lat=g.centroid_lat, lon=g.centroid_lon,
                                         reporter_worker_id=w.id), locator=services.locator, now=at(NORMAL_DAY, 600))
        cid, wid, lat, lon = c.id, w.id, g.centroid_lat, g.centroid_lon
    b3 = cached()
    assert cache.misses == 2 and b3["counts"]["reported"] == b1["counts"]["reported"] + 1
    assert _same(b3, _fresh(services, cal))
    with services.db.write() as s:
        from dashboard.models import Case
        transition(s, s.get(Case, cid), "void", actor="t", note="重复", calendar=cal, now=NOW)
    b4 = cached()
    assert cache.misses == 3 and b4["counts"]["reported"] == b1["counts"]["reported"]
    assert _same(b4, _fresh(services, cal))

    # a late GPS fix for that day
    with services.db.write() as s:
        ingest_fixes(s, [Fix(worker_id=wid, fix_time=at(NORMAL_DAY, 601.5), lat=lat, lon=lon)],
                     locator=services.locator, now=NOW)
    b5 = cached()
    assert cache.misses == 4 and b5["workers"]["fixes"] == b4["workers"]["fixes"] + 1
    assert _same(b5, _fresh(services, cal))
    assert cached() == b5 and cache.hits == 3

    # today is never served from the cache
    today = NOW.date()
    hits, misses = cache.hits, cache.misses
    with services.db.read() as s:
        cache.get(s, day=today, calendar=cal, now=NOW)
        cache.get(s, day=today, calendar=cal, now=NOW + timedelta(minutes=1))
    assert (cache.hits, cache.misses) == (hits, misses)
