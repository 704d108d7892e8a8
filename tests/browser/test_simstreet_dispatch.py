"""The demo street answers (issue 27 item 5, "Done when"): a dispatcher clicks 一键派遣 in /console and the case
moves through 签收 → 到场 (by GPS) → 处置反馈 with an after-photo on the console, with nobody on /m.

The simulator runs at --sim-speed 60 with every task going smoothly (GC_SIM_WORKER_TROUBLE=0; the troubled ones
are tests/unit/test_simworkers_respond.py's) and no cases of its own (GC_SIM_CASES_PER_DAY=0), so the only task is
this test's."""
from __future__ import annotations

import time

import pytest
import requests
from shapely.geometry import Polygon

from tests.browser.conftest import watch_page
from tests.utils.page_client import demo_http

pytestmark = pytest.mark.browser
WORKER = "W0001"


def wait_until(fn, timeout: float = 30, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def street(tmp_path):
    from tests.conftest import LiveServer

    srv = LiveServer(tmp_path, "--sim-speed", "60", "--sim-hour", "10",
                     env={"GC_SIM_WORKER_TROUBLE": "0", "GC_SIM_CASES_PER_DAY": "0"}).start(timeout=150)
    yield srv
    srv.stop()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_dispatched_case_moves_with_nobody_on_the_phone(browser, street, tmp_path, lang):
    url = street.url
    # the day shift is out walking (the simulator's fixes reach the workers' rows)
    w = wait_until(lambda: next((x for x in requests.get(f"{url}/api/v1/workers", params={"q": WORKER},
                                                         timeout=10).json()["items"] if x["lat"] is not None), None),
                   60, f"{WORKER} walking")
    fc = requests.get(f"{url}/api/v1/grids", timeout=10).json()
    f = next(x for x in fc["features"] if x["properties"]["code"] == w["grid_code"])
    ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0]
    spot = Polygon(ring).representative_point()
    desk = demo_http(url)
    r = desk.post(f"{url}/api/v1/cases", json={"category_code": "0101", "description": "模拟街道测试：楼下垃圾",
                                               "lat": spot.y, "lon": spot.x}, timeout=10)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]

    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        con = ctx.new_page()
        watch = watch_page(con)
        con.goto(f"{url}/console?lang={lang}")
        con.wait_for_function("() => window.GCConsole && GCLive.lastSeq() !== null", timeout=30000)
        con.click(f"#console-cases .console-item[data-id='{case_id}']")
        # the nearest worker the simulator walks (its phone sends fixes: one placed at its grid's centre has no
        # phone in the simulation and would not answer, like a real worker without the app)
        recs = requests.get(f"{url}/api/v1/cases/{case_id}/recommendations", timeout=10).json()["workers"]
        worker_id = next(r["worker_id"] for r in recs if r["from_fix"])
        row = f"#console-side li[data-worker='{worker_id}']"
        con.wait_for_selector(f"{row} button[data-action='dispatch-worker']", timeout=15000)
        con.click(f"{row} button[data-action='dispatch-worker']")  # the one click
        con.wait_for_selector("#console-case-state[data-state='dispatched']", timeout=15000)
        # …and the case moves on the console by itself: accepted, arrived (GPS), fed back
        for step in ("acknowledge", "arrive", "feedback"):
            try:
                con.wait_for_selector(f"#console-timeline tr[data-action='{step}']", timeout=90000)
            except Exception:
                tl = requests.get(f"{url}/api/v1/cases/{case_id}", timeout=10).json()["timeline"]
                raise AssertionError(f"no {step} on the console; the case's timeline: "
                                     f"{[(e['action'], e['actor'], e['at']) for e in tl]}; server log: "
                                     f"{street.log()[-3000:]}") from None
        con.wait_for_selector("#console-case-state[data-state='feedback']", timeout=15000)
        con.screenshot(path=str(tmp_path / f"console-{lang}.png"))
        arrive = con.inner_text("#console-timeline tr[data-action='arrive']")
        assert "GPS" in arrive
        case = requests.get(f"{url}/api/v1/cases/{case_id}", timeout=10).json()
        assert case["assigned_worker_id"] == worker_id and case["state"] == "feedback"
        actions = [e["action"] for e in case["timeline"]]
        assert actions == ["report", "dispatch", "acknowledge", "arrive", "feedback"], actions
        assert [p["stage"] for p in case["photo_list"]] == ["after"]  # the generated after-photo
        acked = next(e for e in case["timeline"] if e["action"] == "acknowledge")
        assert acked["actor"] != "GPS" and "*" in acked["actor"]  # the worker (masked) accepted it
        assert requests.get(f"{url}{case['photo_list'][0]['thumb_url']}", timeout=10).status_code == 200
        watch.assert_clean()
    finally:
        ctx.close()
