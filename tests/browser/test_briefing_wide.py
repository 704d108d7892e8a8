"""/briefing at 1920 in Chromium (issue 29 items 4, 8): the charts four abreast and the cards two abreast, the
replay's legend and truthful speed labels in both languages, today's replay stopping at now, a clean print."""
from __future__ import annotations

from datetime import datetime

import pytest

from dashboard.timeutil import SHANGHAI
from tests.utils.briefing_world import NORMAL_DAY, build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def server(live_server, tmp_path):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'wide.db'}"
    _, services = create_app(make_settings(url, tmp_path))
    migrate(services.db.engine)
    build_world(services, per_day=8)
    services.shutdown()
    return live_server("--no-sim", db_url=url, env={"GC_BRIEF_AT": "off"})


def boxes(page, selector: str) -> list[dict]:
    return [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]


def test_wide_screen_legend_speeds_and_print(pages, server, tmp_path):
    page, watch = pages(f"{server.url}/briefing?day={NORMAL_DAY}", width=1920, height=1080, wait_for=".gcb-kpi",
                        timeout_ms=30000)
    page.wait_for_selector(".gcb-charts .gcb-card")
    charts = boxes(page, ".gcb-charts > .gcb-card")
    assert len(charts) == 4
    assert len({round(b["y"]) for b in charts}) == 1 and charts[0]["x"] < charts[1]["x"] < charts[3]["x"]
    assert charts[3]["x"] + charts[3]["width"] > 1500  # the width is used
    kpis = boxes(page, ".gcb-kpi")
    assert len({round(b["y"]) for b in kpis}) == 1  # all ten KPI cards on one row
    cards = boxes(page, ".gcb-content > .gcb-card:not(.gcb-summary)")
    assert any(abs(a["y"] - b["y"]) < 2 and a["x"] != b["x"] for a in cards for b in cards)  # two abreast
    sat = page.locator("#brief-satisfaction").inner_text()  # issue 31: residents' satisfaction and visits
    assert "居民满意度（近30天）" in sat and "满意率" in sat and "响应时间中位数" in sat and "不满意返工" in sat
    assert "当日走访" in page.locator("#brief-visits").inner_text()
    legend = page.locator("#brief-replay-legend").inner_text()
    for word in ("上报", "派遣", "结案", "网格员", "近30分钟轨迹"):
        assert word in legend
    page.locator("#brief-replay-speed").click()
    options = page.locator("#brief-replay-speed").inner_text() + page.locator("body").inner_text()
    assert "每秒 15 分钟" in options and "每秒 60 分钟" in options and "15×" not in options
    page.keyboard.press("Escape")
    page.screenshot(path=str(tmp_path / "briefing-1920.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".gcb-exports").is_visible() and not page.locator(".gcb-replay").is_visible()
    assert page.locator(".gcb-kpi").first.is_visible()
    watch.assert_clean()

    en, watch_en = pages(f"{server.url}/briefing?day={NORMAL_DAY}&lang=en", width=1920, height=1080,
                         wait_for=".gcb-kpi", timeout_ms=30000)
    assert "Last 30 min of track" in en.locator("#brief-replay-legend").inner_text()
    assert "15 min per second" in en.locator("#brief-replay-speed").inner_text()
    sat = en.locator("#brief-satisfaction").inner_text()
    assert "Residents' satisfaction (last 30 days)" in sat and "Closed to their satisfaction" in sat
    assert "Visits today" in en.locator("#brief-visits").inner_text()
    watch_en.assert_clean()


def test_todays_replay_stops_at_now(pages, server):
    """Playing today's replay at 60 minutes a second never passes the current minute."""
    page, watch = pages(f"{server.url}/briefing", width=1920, height=1080, wait_for=".gcb-kpi", timeout_ms=30000)
    page.wait_for_selector("#brief-replay-map[data-minute]", timeout=20000)
    page.locator("#brief-replay-speed").click()
    page.get_by_text("每秒 60 分钟", exact=True).click()
    page.locator("#brief-replay-play").click()
    page.wait_for_timeout(4000)
    now = datetime.now(SHANGHAI)
    minute = int(page.get_attribute("#brief-replay-map", "data-minute"))
    assert minute <= now.hour * 60 + now.minute + 1
    assert minute > 0 or now.hour * 60 + now.minute < 2  # it did play
    watch.assert_clean()
