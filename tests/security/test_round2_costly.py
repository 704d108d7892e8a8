"""Issue 25 item 11: costly reads.

A day's replay is built once per day and scope (a settled day is kept, today's for a short time, at most a few
entries), the API and the briefing page share it; every list endpoint keeps a maximum page size, and a size
beyond it is a 400 naming the parameter (never served, never clamped silently).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from dashboard.services.replay import ReplayCache
from dashboard.timeutil import SHANGHAI, local_today
from tests.security.conftest import build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("costly2"), with_pages=False)
    yield w
    w.services.shutdown()


def test_a_days_replay_is_built_once_per_day_and_scope(world):
    cache, leader = world.services.replays, world.client("leader")
    past = (local_today() - timedelta(days=3)).isoformat()
    m0 = cache.misses
    for _ in range(3):
        assert leader.get(f"/api/v1/replay?day={past}").status_code == 200
    assert cache.misses == m0 + 1
    # another scope is another entry; a community-bound caller's is its community's
    assert leader.get(f"/api/v1/replay?day={past}&community={world.ids['community_a']}").status_code == 200
    assert world.client("dispatcher_a").get(f"/api/v1/replay?day={past}").status_code == 200
    assert cache.misses == m0 + 2
    # and the scopes are not mixed up: A's replay holds no case of B
    a = world.client("dispatcher_a").get("/api/v1/replay").get_json()
    assert world.ids["case_b"] not in {c[0] for c in a["cases"]}
    assert world.ids["case_a"] in {c[0] for c in a["cases"]}


def test_today_expires_a_settled_day_does_not():
    built: list[tuple[date, int | None]] = []

    class Read:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False

    import dashboard.services.replay as mod

    real = mod.replay
    mod.replay = lambda s, *, day, community_id, now=None: built.append((day, community_id)) or {"day": day.isoformat()}
    try:
        cache = ReplayCache(max_entries=4, today_ttl_s=0.0)
        noon = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)
        today, yesterday = date(2026, 12, 7), date(2026, 12, 6)
        for _ in range(3):
            cache.get(Read, day=today, community_id=None, now=noon)
            cache.get(Read, day=yesterday, community_id=None, now=noon)
        assert built.count((today, None)) == 3 and built.count((yesterday, None)) == 1
        # just after midnight yesterday is still settling (late fixes): not kept for good yet
        early = datetime(2026, 12, 7, 0, 5, tzinfo=SHANGHAI)
        fresh = ReplayCache(today_ttl_s=0.0)
        fresh.get(Read, day=yesterday, community_id=1, now=early)
        fresh.get(Read, day=yesterday, community_id=1, now=early)
        assert built.count((yesterday, 1)) == 2
        # bounded: many days do not pile up
        for k in range(20):
            cache.get(Read, day=date(2026, 11, 1) + timedelta(days=k), community_id=None, now=noon)
        assert len(cache._memo._data) <= 4
    finally:
        mod.replay = real


# (client role, path, the size parameter, its maximum)
PAGED = [
    ("dispatcher", "/api/v1/cases", "page_size", 500),
    ("dispatcher", "/api/v1/workers", "page_size", 1000),
    ("dispatcher", "/api/v1/alerts", "limit", 2000),
    ("admin", "/api/v1/audit", "limit", 1000),
    ("dispatcher", "/api/v1/events", "limit", 5000),
    ("dispatcher", "/api/v1/patrol/log", "limit", 2000),
    ("dispatcher", "/api/v1/alerts/{alert_a}/recommendations", "limit", 50),
    ("dispatcher", "/api/v1/cases/{case_a}/recommendations", "limit", 50),
]


@pytest.mark.parametrize("role, path, name, hi", PAGED)
def test_a_page_beyond_the_maximum_is_a_400_naming_the_parameter(world, role, path, name, hi):
    url = path.format(**world.ids)
    c = world.client(role)
    assert c.get(f"{url}?{name}={hi}").status_code == 200
    r = c.get(f"{url}?{name}={hi + 1}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == name, r.get_json()


def test_open311_and_the_unpaged_lists_have_their_caps(world):
    r = world.client(None).get("/open311/v2/requests.json?page_size=100000")
    assert r.status_code == 400 and "page_size" in r.get_data(as_text=True)
    # lists without a size parameter answer the newest 100 however many there are
    from dashboard.services import tours
    from dashboard.services.calls import end_call, start_call

    with world.services.db.write() as s:
        for k in range(105):
            tours.create_tour(s, name=f"批量{k}", stops=[{"grid_id": world.ids["grid_a"]}], created_by="test")
            end_call(s, start_call(s, operator="test", worker_id=world.ids["worker_a"], caller_sid=f"bulk-{k}"),
                     by="operator")
    d = world.client("dispatcher")
    assert len(d.get("/api/v1/tours").get_json()["tours"]) == 100
    assert len(d.get(f"/api/v1/calls?worker_id={world.ids['worker_a']}").get_json()["calls"]) == 100
