"""A signed webhook event from a (simulated) compound door appears as an alert on the wall within a second;
a badly signed one shows nothing."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from dashboard.services.access_control import signed_headers
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READY = "#wall-root[data-started]"
LIVE = "() => window.GCWall && GCLive.lastSeq() !== null"
# records (Date.now()) when each alert card first appears in the wall's alert panel
WATCH = """() => { window.__gcSeen = {};
  const box = document.getElementById('wall-alerts');
  const mark = () => { for (const el of box.querySelectorAll('.wall-alert[data-alert-id]')) {
    const id = el.getAttribute('data-alert-id'); if (!(id in window.__gcSeen)) { window.__gcSeen[id] = Date.now(); } } };
  mark(); new MutationObserver(mark).observe(box, { childList: true, subtree: true }); }"""
SEEN = "id => window.__gcSeen[id] || null"


@pytest.fixture(scope="module")
def door_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("doors"), "--no-sim").start()
    # (tests/conftest.LiveServer starts without the demo's recent history: nothing is written behind it)
    yield srv
    srv.stop()


def doors(db_url: str, n: int = 5) -> list[dict]:
    """``n`` demo access-control doors with their secrets and their compounds' names."""
    from dashboard.db import Database
    from dashboard.models import Place
    from dashboard.models.governance import AccessDevice

    db = Database(db_url)
    try:
        with db.read() as s:
            rows = s.execute(select(AccessDevice, Place.name).join(Place, Place.id == AccessDevice.place_id)
                             .where(AccessDevice.kind == "door").order_by(AccessDevice.device_id).limit(n)).all()
            return [{"device_id": d.device_id, "secret": d.secret, "grid_id": d.grid_id, "place": place}
                    for d, place in rows]
    finally:
        db.dispose()


def device_alerts(db_url: str) -> int:
    from sqlalchemy import func

    from dashboard.db import Database
    from dashboard.models import Alert

    db = Database(db_url)
    try:
        with db.read() as s:
            return s.scalar(select(func.count()).select_from(Alert).where(Alert.source == "device"))
    finally:
        db.dispose()


def open_alerts(db_url: str) -> int:
    from sqlalchemy import func

    from dashboard.db import Database
    from dashboard.models import Alert

    db = Database(db_url)
    try:
        with db.read() as s:
            return s.scalar(select(func.count()).select_from(Alert).where(Alert.state != "resolved",
                                                                          Alert.channel == "actual"))
    finally:
        db.dispose()


def send(srv: LiveServer, door: dict, body: dict, *, secret: str | None = None) -> requests.Response:
    raw = json.dumps(body).encode()
    return requests.post(srv.url + "/api/v1/devices/events", data=raw, timeout=10,
                         headers=signed_headers(door["device_id"], secret or door["secret"], raw))


def test_forced_door_reaches_the_wall_within_a_second(pages, door_server):
    five = doors(door_server.db_url)
    assert len(five) == 5
    door = five[0]
    page, watch = pages(door_server.url + "/wall", wait_for=READY)
    page.wait_for_function(LIVE, timeout=20000)
    page.wait_for_selector(".wall-status-connected", timeout=10000)
    page.evaluate(WATCH)

    bad = send(door_server, door, {"event_id": uuid.uuid4().hex, "type": "door_forced"}, secret="not-the-secret")
    assert bad.status_code == 401

    delays, ids = [], []
    for door in five:  # five doors: one open alert per door and kind (a door forced again repeats its alert)
        time.sleep(1.0)  # let the map finish the previous redraw: each sample starts from an idle wall
        event_id = uuid.uuid4().hex
        t0 = time.time() * 1000
        r = send(door_server, door, {"event_id": event_id, "type": "door_forced"})
        assert r.status_code == 201, r.text
        alert = r.json()["alert"]
        ids.append(alert["id"])
        assert r.json()["alert_created"] and alert["grid_id"] == door["grid_id"]
        # poll with timers, not animation frames: the software-WebGL map redraw may starve rAF
        seen = page.wait_for_function(SEEN, arg=str(alert["id"]), polling=20, timeout=5000).json_value()
        delays.append(seen - t0)
        card = page.inner_text(f"#wall-alerts .wall-alert[data-alert-id='{alert['id']}']")
        assert door["place"] in card and "门禁被强行打开" in card

        replay = send(door_server, door, {"event_id": event_id, "type": "door_forced"})
        assert replay.status_code == 409
    print(f"\ndoor_forced webhook → wall alert card: {', '.join(f'{d:.0f} ms' for d in delays)}")
    # issue 10: on the wall within a second. The median is held to that; a single sample may stall behind a
    # map redraw on a CPU-starved test machine (the wall caps a redraw wait at 3 s), so it gets 3 s.
    median = sorted(delays)[len(delays) // 2]
    assert median < 1000, f"median webhook → wall delay {median:.0f} ms (issue 10: within a second)"
    assert max(delays) < 3000, f"an alert took {max(delays):.0f} ms to reach the wall"
    time.sleep(0.5)  # the bad and the replayed requests made no alert: the wall shows exactly these five
    shown = page.evaluate("() => Array.from(document.querySelectorAll('#wall-alerts .wall-alert'))"
                          ".filter(e => e.textContent.includes('门禁')).map(e => +e.getAttribute('data-alert-id'))")
    # the panel holds the two newest cards and counts the rest, all inside the panel (nothing cut off)
    assert sorted(shown) == sorted(ids)[-2:]
    more = page.get_attribute("#wall-alerts .wall-alert-more", "data-more")
    # the other three, and whatever the demo's last week left open (its overdue cases' alerts)
    assert more is not None and int(more) == open_alerts(door_server.db_url) - 2 >= 3
    boxes = page.evaluate("""() => { const p = document.querySelector('.wall-panel-alerts').getBoundingClientRect();
        return Array.from(document.querySelectorAll('#wall-alerts > *')).map(e => e.getBoundingClientRect().bottom - p.bottom); }""")
    assert max(boxes) <= 0, f"alert panel content overflows by {max(boxes):.0f} px"
    assert device_alerts(door_server.db_url) == len(ids)
    # the newest door forced again: the same card, counted twice, no sixth alert
    r = send(door_server, five[-1], {"event_id": uuid.uuid4().hex, "type": "door_forced"})
    assert r.status_code == 201 and r.json()["alert"]["id"] == ids[-1] and not r.json()["alert_created"]
    page.wait_for_selector(f"#wall-alerts .wall-alert[data-alert-id='{ids[-1]}'][data-count='2']", timeout=5000)
    assert "×2" in page.inner_text(f"#wall-alerts .wall-alert[data-alert-id='{ids[-1]}']")
    assert device_alerts(door_server.db_url) == len(ids)
    watch.assert_clean()
