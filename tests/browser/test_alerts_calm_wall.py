"""A spike in one grid yields one alert on the wall and the console, and that alert updates in place as the burst
goes on (issue 27 item 1), in real Chromium against the demo street: the wall in Chinese, the console in English."""
from __future__ import annotations

from dashboard.i18n import place_name


import pytest
from shapely.geometry import shape

from tests.browser.conftest import watch_page
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READY = "#wall-root[data-started]"
WALL_LIVE = "() => window.GCWall && GCLive.lastSeq() !== null"
DESK_LIVE = "() => window.GCConsole && GCLive.lastSeq() !== null"
SHOT = "/tmp/alerts-calm-{}.png"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from tests.conftest import LiveServer

    # the rules every 2 s (their floor) instead of every 30 s: the test waits seconds, not minutes; and no
    # "not patrolled" alerts (nobody walks with --no-sim, and the demo's fixes reach back far enough to say so)
    s = LiveServer(tmp_path_factory.mktemp("alerts-calm"), "--no-sim",
                   env={"GC_RULE_INTERVAL_S": "1", "GC_RULE_PATROL_HOURS": "10000"}).start(timeout=180)
    # (tests/conftest.LiveServer starts without the demo's recent history: nothing is written behind it)
    yield s
    s.stop()


def test_a_spike_is_one_alert_that_updates_in_place_on_wall_and_console(browser, srv):
    http = demo_http(srv.url)
    grid = http.get(f"{srv.url}/api/v1/grids", timeout=10).json()["features"][7]
    name = grid["properties"]["name"]
    p = shape(grid["geometry"]).representative_point()

    def report(n: int) -> None:
        for i in range(n):
            r = http.post(f"{srv.url}/api/v1/cases", json={"category_code": "0101", "lat": p.y + i * 1e-6,
                                                           "lon": p.x, "description": f"楼道堆物 {i}"}, timeout=10)
            assert r.status_code == 201, r.text

    wall_ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    desk_ctx = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        wall = wall_ctx.new_page()
        wall_watch = watch_page(wall)
        wall.goto(srv.url + "/wall")
        wall.wait_for_selector(READY, timeout=60000)
        wall.wait_for_function(WALL_LIVE, timeout=20000)
        desk = desk_ctx.new_page()
        desk_watch = watch_page(desk)
        desk.goto(srv.url + "/console?lang=en")
        desk.wait_for_function(DESK_LIVE, timeout=30000)

        spikes = "#wall-alerts .wall-alert:has-text('事件激增')"  # the demo's overdue cases have their alerts too
        report(4)  # four cases: under the minimum of five, no alert
        wall.wait_for_timeout(3000)
        assert wall.locator(spikes).count() == 0
        assert not [a for a in http.get(f"{srv.url}/api/v1/alerts").json()["items"] if a["kind"] == "case_spike"]
        report(1)
        card = wall.wait_for_selector(spikes, timeout=15000)
        alert_id = card.get_attribute("data-alert-id")
        text = card.inner_text()
        assert f"{name} 事件激增" in text and "×" not in text, text
        assert "wall-alert-moderate" in card.get_attribute("class")
        item = desk.wait_for_selector(f"#console-alerts .console-item[data-id='{alert_id}']", timeout=15000)
        assert f"Case spike in {place_name(name, 'en')}" in item.inner_text()  # the grid named in English

        report(5)  # the burst goes on: the same card, counted twice, now severe — no second card
        wall.wait_for_selector(f"#wall-alerts .wall-alert[data-alert-id='{alert_id}'][data-count='2']",
                               timeout=15000)
        cards = wall.locator(spikes)
        assert cards.count() == 1
        assert "wall-alert-severe" in cards.first.get_attribute("class")
        assert "×2" in cards.first.inner_text()
        desk.wait_for_function(
            f"() => (document.querySelector(\"#console-alerts .console-item[data-id='{alert_id}']\") || {{}})"
            ".textContent.includes('×2')", timeout=15000)
        assert desk.locator("#console-alerts .console-item:has-text('Case spike')").count() == 1
        desk.click(f"#console-alerts .console-item[data-id='{alert_id}']")
        desk.wait_for_selector(".console-desc", timeout=10000)
        assert "10 cases in 1 h, usually about 1.0" in desk.inner_text(".console-desc")
        # the API says the same in either language
        zh = [a for a in http.get(f"{srv.url}/api/v1/alerts", timeout=10).json()["items"] if a["kind"] == "case_spike"]
        assert [(a["id"], a["count"], a["title"]) for a in zh] == [(int(alert_id), 2, f"{name} 事件激增")]
        assert zh[0]["description"].startswith("1 小时 10 件，平时约 1.0 件")
        wall.screenshot(path=SHOT.format("wall"))
        desk.screenshot(path=SHOT.format("console-en"))
        wall_watch.assert_clean()
        desk_watch.assert_clean()
    finally:
        wall_ctx.close()
        desk_ctx.close()
