"""/m's visits tab (走访, issue 31) on a phone viewport: a worker records a visit, sees it masked among her recent
ones, taps 转为事件 and the case is made — once (the button becomes the case's code)."""
from __future__ import annotations

import pytest
import requests

from tests.browser.test_mobile import grid_center, open_m, sign_in, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("mobile_visits"), "--no-sim").start()
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
        w.assert_clean()
    finally:
        ctx.close()
