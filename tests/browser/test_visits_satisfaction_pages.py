"""Issue 31 items 3-4 in Chromium, on one live demo street: /m's visits tab on a phone viewport (a worker records
a visit, sees it masked among her recent ones, taps 转为事件 and the case is made — once), and the wall's residents'
satisfaction panel option, which follows a resident's report and the center's first step on it live."""
from __future__ import annotations

import json

import pytest
import requests

from dashboard.services.residents import grid_link_param
from tests.browser.test_mobile import grid_center, open_m, sign_in, wait_until
from tests.utils.page_client import demo_http

SECRET = "test-secret-visits-satisfaction-0123456789"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("visits_satisfaction"), "--no-sim",
                     env={"GC_SECRET_KEY": SECRET}).start()  # the QR links' check, to report as a resident
    yield srv
    srv.stop()


def test_record_a_visit_and_make_its_follow_up_a_case(browser, server):
    lat, lon, grid_id = grid_center(server.url, "W0003")
    ctx, page, w = open_m(browser, server.url, lat, lon)
    try:
        sign_in(page, "W0003")
        page.click("#m-tab-visits")
        page.wait_for_selector("#m-pane-visits:not([hidden])")
        assert page.is_hidden("#m-pane-tasks") and page.is_hidden("#m-pane-patrol")
        page.select_option("#m-visit-kind", "household")
        page.fill("#m-visit-whom", "王小明")
        page.fill("#m-visit-place", "3号楼2单元")
        page.fill("#m-visit-needs", "楼道灯坏了，晚上看不见")
        page.fill("#m-visit-follow", "报修楼道灯")
        page.click("#m-visit-save")
        item = page.wait_for_selector("#m-visits .m-visit")
        assert "王*明" in item.inner_text() and "王小明" not in page.inner_text("#m-visits")
        assert page.input_value("#m-visit-whom") == ""  # the form is cleared for the next household
        # the page fits the phone: no sideways scrolling with the fourth tab
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

        page.click("#m-visits .m-visit-case")
        made = page.wait_for_selector("#m-visits .m-visit-case-made")
        code = made.inner_text().split()[-1]
        assert page.query_selector("#m-visits .m-visit-case") is None  # once: the button is gone
        case = wait_until(lambda: next((c for c in requests.get(f"{server.url}/api/v1/cases", params={
            "page_size": 500}, timeout=10).json()["items"] if c["code"] == code), None), what="the visit's case")
        assert (case["grid_id"], case["source"], case["state"]) == (grid_id, "app", "reported")
        assert "报修楼道灯" in case["description"]
        # the English page says it in English
        page.goto(server.url + "/m?lang=en")
        page.wait_for_selector("#m-main:not([hidden])")
        page.click("#m-tab-visits")
        made = page.wait_for_selector("#m-visits .m-visit-case-made")
        assert made.inner_text().startswith("Made case") and page.inner_text("#m-tab-visits") == "Visits"
        # a worker read "Needs heard：楼道灯…" — a Chinese colon after the English label
        listed = page.inner_text("#m-visits")
        assert "Needs heard: 楼道灯坏了" in listed and "：" not in listed
        w.assert_clean()
    finally:
        ctx.close()


def test_the_wall_satisfaction_panel_follows_residents_live(pages, server):
    page, watch = pages(f"{server.url}/wall?panel=satisfaction", width=1920, height=1080, wait_for="#wall-sat",
                        timeout_ms=30000)
    value = "#wall-sat .wall-sat-value[data-key={}]".format
    assert "居民满意度" in page.inner_text("#wall-sat") and page.inner_text(value("reports")) == "0"
    assert page.query_selector("#gov-panel") is None  # the option takes the 五治 panel's slot
    page.wait_for_selector(".wall-status-connected", timeout=20000)
    fc = requests.get(f"{server.url}/api/v1/grids", timeout=10).json()["features"][0]
    code = fc["properties"]["code"]
    from shapely.geometry import shape

    pt = shape(fc["geometry"]).representative_point()
    lat, lon = pt.y, pt.x
    body = {"g": grid_link_param(SECRET, code), "category": "garbage", "description": "楼下垃圾没人清运",
            "lat": lat, "lon": lon}
    r = requests.post(f"{server.url}/api/v1/r/reports", files={"report": (None, json.dumps(body, ensure_ascii=False))},
                      headers={"Idempotency-Key": "wall-sat-0001"}, timeout=10)
    assert r.status_code == 201, r.text
    # the report's case event refetches the panel: one report, nobody has answered it yet
    page.wait_for_function(f"() => document.querySelector('{value('reports')}').textContent === '1'", timeout=15000)
    assert page.inner_text(value("response_median_min")) == "—"
    http = demo_http(server.url)
    case = next(c for c in http.get(f"{server.url}/api/v1/cases", params={"page_size": 500}, timeout=10)
                .json()["items"] if c["source"] == "resident")
    assert http.post(f"{server.url}/api/v1/cases/{case['id']}/actions/register", json={},
                     timeout=10).status_code == 200
    # the center's first step is timed: the median response appears without a reload
    page.wait_for_function(f"() => document.querySelector('{value('response_median_min')}').textContent !== '—'",
                           timeout=15000)
    assert "分钟" in page.inner_text(value("response_median_min"))
    watch.assert_clean()
    en, watch_en = pages(f"{server.url}/wall?panel=satisfaction&lang=en", width=1920, height=1080,
                         wait_for="#wall-sat", timeout_ms=30000)
    assert "Residents' satisfaction" in en.inner_text("#wall-sat")
    en.wait_for_function(f"() => document.querySelector('{value('response_median_min')}').textContent.endsWith(' min')",
                         timeout=15000)  # the page's script brings the figures up to date once it is up
    watch_en.assert_clean()
