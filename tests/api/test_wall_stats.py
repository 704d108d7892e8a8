"""/api/v1/wall/stats: today's counters, categories, hourly curve and ranking, worked out by hand."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard.models import Case
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.wall_stats import recent_events, wall_stats
from dashboard.timeutil import SHANGHAI, UTC

# a fixed "now": 15:30 Shanghai; the day starts at 16:00 UTC the day before
NOW = datetime(2026, 11, 25, 15, 30, tzinfo=SHANGHAI).astimezone(UTC)


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=SHANGHAI).astimezone(UTC) + timedelta(days=days)


def report(s, services, world, cat: str, grid: int, when: datetime, *, onsite: bool = False, key: str = "") -> Case:
    lat, lon = world["centers"][grid]
    c, _ = report_case(s, CaseReport(category_code=cat, description=f"测试{key}", lat=lat, lon=lon, onsite=onsite,
                                     idempotency_key=key or None), locator=services.locator, now=when)
    return c


@pytest.fixture
def day(district):
    """Yesterday: 2 cases; today: 5 cases in two communities, one handled on the spot, one dispatched
    and closed on time, one dispatched and overdue, one dispatched and closed late."""
    app, services, world = district
    cal = services.calendar
    with services.db.write() as s:
        report(s, services, world, "0101", 0, at(9, days=-1), key="y1")
        report(s, services, world, "0601", 4, at(23, 30, days=-1), key="y2")
        report(s, services, world, "0101", 0, at(8, 5), onsite=True, key="t1")          # community 1, onsite
        ontime = report(s, services, world, "0101", 1, at(9, 10), key="t2")              # community 2
        overdue = report(s, services, world, "0401", 4, at(9, 20), key="t3")             # 2 h limit → overdue
        late = report(s, services, world, "0401", 5, at(10, 0), key="t4")
        report(s, services, world, "0601", 3, at(14, 45), key="t5")                       # community 1, open
        for c in (ontime, overdue, late):
            transition(s, c, "dispatch", actor="t", worker_id=world["worker_ids"][0], calendar=cal,
                       now=c.created_at + timedelta(minutes=5))
        for c, when in ((ontime, at(10, 0)), (late, at(15, 0))):
            transition(s, c, "acknowledge", actor="t", now=when - timedelta(minutes=2))
            transition(s, c, "feedback", actor="t", now=when - timedelta(minutes=1))
            transition(s, c, "approve", actor="t", now=when)
        late.sla_due_at = at(12, 0)  # force "late" whatever the working calendar says
    return app, services, world


def test_counters_and_rates(day):
    app, services, world = day
    with services.db.read() as s:
        st = wall_stats(s, now=NOW)
    c = st["counters"]
    assert (c["reported"], c["onsite"], c["escalated"]) == (5, 1, 4)
    assert c["dispatched"] == 3
    assert c["closed"] == 3            # onsite + two approved
    assert c["in_progress"] == 1       # the overdue one, still dispatched
    assert c["overdue"] == 1
    assert c["self_rate"] == pytest.approx(1 / 5, abs=1e-4)
    # closed with an SLA: ontime (on time) and late (late); due and still open today: overdue → 1 of 3
    assert c["ontime_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert st["seq"] > 0


def test_categories_hourly_ranking_and_grids(day):
    app, services, world = day
    with services.db.read() as s:
        st = wall_stats(s, now=NOW)
    assert sorted((r["name"], r["count"]) for r in st["by_category"]) == [("安全隐患", 2), ("市容环境", 2), ("民生诉求", 1)]
    today, yesterday = st["hourly"]["today"], st["hourly"]["yesterday"]
    assert len(today) == len(yesterday) == 24
    assert today[8] == 1 and today[9] == 2 and today[10] == 1 and today[14] == 1 and sum(today) == 5
    assert yesterday[9] == 1 and yesterday[23] == 1 and sum(yesterday) == 2
    rank = {r["name"]: r for r in st["ranking"]}
    # community 1 is the left column (grids 0, 3, 6); yesterday's y1 (grid 0) and y2 (grid 4) are still open
    assert (rank["一社区"]["reported"], rank["一社区"]["open"], rank["一社区"]["closed"]) == (2, 2, 1)
    assert (rank["二社区"]["reported"], rank["二社区"]["open"], rank["二社区"]["closed"]) == (3, 2, 2)
    assert [r["name"] for r in st["ranking"]] == ["二社区", "一社区"]
    g = world["grid_ids"]
    assert st["grids"]["today"] == {str(g[0]): 1, str(g[1]): 1, str(g[4]): 1, str(g[5]): 1, str(g[3]): 1}
    assert st["grids"]["open"] == {str(g[0]): 1, str(g[4]): 2, str(g[3]): 1}


def test_a_community_wall_counts_only_its_community(day):
    app, services, world = day
    one, g = world["community_ids"][0], world["grid_ids"]
    with services.db.read() as s:
        st = wall_stats(s, now=NOW, community_id=one)
        ticker = recent_events(s, 50, community_id=one)
        street_ticker = recent_events(s, 50)
    # community 1 is the left column (grids 0, 3, 6): today t1 (on the spot) and t5; y1 still open
    assert (st["counters"]["reported"], st["counters"]["onsite"], st["counters"]["closed"]) == (2, 1, 1)
    assert [(r["name"], r["reported"], r["open"]) for r in st["ranking"]] == [("一社区", 2, 2)]
    assert sorted((r["name"], r["count"]) for r in st["by_category"]) == [("市容环境", 1), ("民生诉求", 1)]
    assert st["grids"]["today"] == {str(g[0]): 1, str(g[3]): 1}
    assert st["grids"]["open"] == {str(g[0]): 1, str(g[3]): 1}
    assert ticker and all(e["community_id"] in (one, None) for e in ticker)
    assert any(e["community_id"] not in (one, None) for e in street_ticker)


def test_empty_day_has_no_rates(district):
    app, services, world = district
    with services.db.read() as s:
        st = wall_stats(s, now=NOW)
    assert st["counters"]["reported"] == 0
    assert st["counters"]["self_rate"] is None and st["counters"]["ontime_rate"] is None
    assert st["hourly"]["today"] == [0] * 24
    assert st["by_category"] == []


def test_endpoint_roles(district):
    from tests.api.conftest import make_key

    app, services, world = district
    client = app.test_client()
    assert client.get("/api/v1/wall/stats", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 401
    worker_key = make_key(services, "worker", world["worker_ids"][0])
    r = client.get("/api/v1/wall/stats", headers={"X-API-Key": worker_key}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 403
    display_key = make_key(services, "display")
    r = client.get("/api/v1/wall/stats", headers={"X-API-Key": display_key}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) >= {"seq", "counters", "by_category", "hourly", "ranking", "grids"}
    assert r.headers["Cache-Control"] == "no-store"


def test_refetch_after_a_case_sees_it_and_bad_after_is_a_400(district):
    """Walls share one computation of the figures, yet a wall asking ``after`` a case's seq gets figures
    that count that case; a caller without ``after`` gets figures as recent as the log."""
    from tests.api.conftest import make_key

    app, services, world = district
    client = app.test_client()
    h = {"headers": {"X-API-Key": make_key(services, "display")}, "environ_base": {"REMOTE_ADDR": "10.1.2.3"}}
    first = client.get("/api/v1/wall/stats", **h).get_json()
    assert client.get("/api/v1/wall/stats?after=0", **h).get_json() == first  # the shared computation
    with services.db.write() as s:
        report(s, services, world, "0101", 0, datetime.now(UTC), key="fresh")
    with services.db.read() as s:
        from dashboard.events import last_seq
        seq = last_seq(s)
    for q in (f"?after={seq}", ""):
        st = client.get("/api/v1/wall/stats" + q, **h).get_json()
        assert st["seq"] >= seq and st["counters"]["reported"] == first["counters"]["reported"] + 1
    far = client.get("/api/v1/wall/stats?after=999999999", **h)  # a seq from the future: today's figures
    assert far.status_code == 200 and far.get_json()["seq"] == seq
    for bad in ("x", "-1", "1.5"):
        r = client.get("/api/v1/wall/stats?after=" + bad, **h)
        assert r.status_code == 400 and "after" in r.get_json()["error"]["message"], bad
