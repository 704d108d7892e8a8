"""The batch position API (`POST /api/v1/positions`) has a budget of fixes per worker or device, like /osmand's:
a stolen phone key could otherwise write thousands of fixes a second into one worker's track for as long as it liked
(GC_RATE_POSITIONS; docs/SECURITY.md)."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Position
from tests.security.conftest import build_world

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


@pytest.fixture
def w(tmp_path):
    world = build_world(tmp_path, with_pages=False, extra={"GC_RATE_POSITIONS": "300/600"})
    yield world
    world.services.shutdown()


def spot(w, tag: str = "a") -> tuple[float, float]:
    from dashboard.models import Grid
    from tests.utils.factories import grid_center

    with w.services.db.read() as s:
        return grid_center(s.get(Grid, w.ids[f"grid_{tag}"]))


def fixes(w, n: int, start: int) -> list[dict]:
    la, lo = spot(w)
    return [{"t": (T0 + timedelta(seconds=start + i)).isoformat(), "lat": la, "lon": lo} for i in range(n)]


def stored(w, tag: str = "a") -> int:
    with w.services.db.read() as s:
        return s.query(Position).filter_by(worker_id=w.ids[f"worker_{tag}"]).count()


@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    """The budget is a sliding window on ``time.time()`` (the ``limits`` library's memory storage): pinned
    mid-window, so a run across a window boundary forgives nothing."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_300.0)


def test_a_workers_fixes_are_capped_per_window_and_a_refused_batch_stores_nothing(w):
    phone, before = w.client("worker"), stored(w)  # the world holds one fix of hers already
    r = phone.post("/api/v1/positions", json={"fixes": fixes(w, 250, 0)})
    assert r.status_code == 200 and r.get_json()["accepted"] == 250, r.get_json()
    r = phone.post("/api/v1/positions", json={"fixes": fixes(w, 60, 1000)})  # 310 > 300: the whole batch waits
    assert r.status_code == 429, r.get_json()
    assert r.get_json()["error"]["field"] == "fixes" and int(r.headers["Retry-After"]) >= 1
    assert r.get_json()["error"]["code"] == "rate_limited"  # the stable code a page shows in its language
    assert stored(w) == before + 250
    assert phone.post("/api/v1/positions", json={"fixes": fixes(w, 50, 2000)}).status_code == 200  # exactly 300
    assert stored(w) == before + 300
    # the budget is the worker's, whoever speaks for her: a dispatcher posting her fixes is refused too
    r = w.client("admin").post("/api/v1/positions", json={"worker_id": w.ids["worker_a"], "fixes": fixes(w, 1, 3000)})
    assert r.status_code == 429
    # another worker's budget is untouched
    r = w.client("admin").post("/api/v1/positions", json={"worker_id": w.ids["worker_b"], "fixes": fixes(w, 5, 0)})
    assert r.status_code == 200, r.get_json()


def test_a_device_id_has_its_budget_and_an_unknown_one_spends_nobodys(w):
    admin = w.client("admin")
    r = admin.post("/api/v1/positions", json={"device_id": "NOPE", "fixes": fixes(w, 300, 0)})
    assert r.status_code == 404  # refused before any budget is spent …
    r = admin.post("/api/v1/positions", json={"device_id": "DEV1", "fixes": fixes(w, 300, 0)})
    assert r.status_code == 200, r.get_json()  # … so the real device still has all of its own
    r = admin.post("/api/v1/positions", json={"device_id": "DEV1", "fixes": fixes(w, 1, 500)})
    assert r.status_code == 429 and r.get_json()["error"]["field"] == "fixes"


def test_off_means_no_budget(tmp_path):
    world = build_world(tmp_path, with_pages=False, extra={"GC_RATE_POSITIONS": "off"})
    try:
        phone = world.client("worker")
        for k in range(3):
            assert phone.post("/api/v1/positions", json={"fixes": fixes(world, 400, 1000 * k)}).status_code == 200
    finally:
        world.services.shutdown()


def test_a_budget_smaller_than_the_phone_apps_buffer_is_warned_of_at_start(tmp_path, caplog):
    """The phone app keeps up to 2,000 fixes and sends them in one batch: a smaller budget could never admit it."""
    world = build_world(tmp_path, with_pages=False, extra={"GC_RATE_POSITIONS": "1000/600"})
    world.services.shutdown()
    assert any("GC_RATE_POSITIONS" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
