"""A fresh demo start writes the street's recent past behind the running server (GC_DEMO_HISTORY_DAYS, issue 29
item 6): yesterday's briefing then has cases and patrol mileage; with 0 nothing is written."""
from __future__ import annotations

import time
from datetime import timedelta

from tests.conftest import LiveServer
from tests.utils.page_client import demo_http


def _yesterday(srv) -> dict:
    from dashboard.timeutil import local_today

    day = (local_today() - timedelta(days=1)).isoformat()
    r = demo_http(srv.url).get(f"{srv.url}/api/v1/briefing?day={day}", timeout=30)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def test_a_fresh_demo_start_writes_the_days_asked_for_and_none_when_off(tmp_path):
    (tmp_path / "two").mkdir()
    srv = LiveServer(tmp_path / "two", "--no-sim", env={"GC_DEMO_HISTORY_DAYS": "2"}).start()
    try:
        deadline = time.time() + 120
        while srv.log().count("demo history for") < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert srv.log().count("demo history for") == 2, srv.log()[-2000:]
        # the line is logged inside the day's transaction: its commit may come a moment after it
        while _yesterday(srv)["counts"]["reported"] == 0 and time.time() < deadline:
            time.sleep(0.5)
        assert _yesterday(srv)["counts"]["reported"] > 0
    finally:
        srv.stop()
    (tmp_path / "off").mkdir()
    srv = LiveServer(tmp_path / "off", "--no-sim").start()  # the harness default: GC_DEMO_HISTORY_DAYS=0
    try:
        time.sleep(2)
        assert "demo history for" not in srv.log()
        assert _yesterday(srv)["counts"]["reported"] == 0
    finally:
        srv.stop()
