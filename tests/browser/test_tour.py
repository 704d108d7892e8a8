"""Mouse patrol in the browser: a five-stop tour runs to the end, 发现问题 opens a case, an alert pauses it."""
from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
import requests

from tests.browser.patrol_helpers import patient_server  # noqa: F401  (fixture)
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SOS_DEVICE = "XY422935"  # W0001 of the demo street
DWELL_S = 3


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx.new_page()
    ctx.close()


def five_stop_tour(url: str) -> dict:
    """A tour over the first five grids that have cameras, short dwell times."""
    grids = []
    for cam in requests.get(f"{url}/api/v1/cameras").json()["cameras"]:
        if cam["grid_id"] and cam["grid_id"] not in grids:
            grids.append(cam["grid_id"])
    body = {"name": "浏览器测试五站", "stops": [{"grid_id": g, "dwell_s": DWELL_S} for g in grids[:5]]}
    r = demo_http(url).post(f"{url}/api/v1/tours", json=body)
    r.raise_for_status()
    return r.json()


def at_stop(page, i: int, n: int = 5) -> None:
    page.wait_for_function(f"() => (document.getElementById('patrol-stop-title').textContent || '')"
                           f".includes('第 {i}/{n} 站')", timeout=30000)


def test_tour_runs_to_the_end_logs_each_stop_opens_a_case_and_pauses_on_alert(patient_server, page):
    # streams end after 3 s here (GC_CAMERA_STREAM_MAX_S, 600 by default): a tile left on the screen reopens its own
    srv = patient_server("--no-sim", env={"GC_CAMERA_STREAM_MAX_S": "3"})
    tour = five_stop_tour(srv.url)
    stops = tour["stops"]
    # the fourth stop's camera is an HLS stream: hls.js is fetched for it, and only then
    from sqlalchemy import create_engine, text

    engine = create_engine(srv.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE camera SET stream_url = :u WHERE id = :i"),
                     {"u": f"{srv.url}/hls/missing/index.m3u8", "i": stops[3]["camera_ids"][0]})
    engine.dispose()
    outside, scripts = [], []
    page.on("request", lambda r: scripts.append(r.url) if "hls" in r.url and r.url.endswith(".js") else None)
    streams: list[tuple[float, str]] = []  # (when, path) of every MJPEG stream the tiles open
    page.on("request", lambda r: streams.append((time.monotonic(), urlparse(r.url).path))
            if r.url.split("?")[0].endswith("/mjpeg") else None)
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1", None)
            and not r.url.startswith("data:") else None)
    page.goto(f"{srv.url}/patrol")
    page.wait_for_selector(f'#patrol-tour-select option[value="{tour["id"]}"]', state="attached", timeout=60000)
    page.select_option("#patrol-tour-select", str(tour["id"]))
    page.click("#patrol-start")

    # stop 1: the map flies there, the grid's camera plays, 巡查正常
    at_stop(page, 1)
    page.wait_for_function("() => { const i = document.querySelector('#patrol-cameras img');"
                           " return i && i.naturalWidth > 0; }", timeout=15000)
    center = page.evaluate("() => document.querySelector('#patrol-map .js-plotly-plot').layout.map.center")
    assert abs(center["lat"] - stops[0]["center"][0]) < 0.01 and abs(center["lon"] - stops[0]["center"][1]) < 0.01
    page.click("#patrol-ok")

    # stop 2: 发现问题 with a note
    at_stop(page, 2)
    page.fill("#patrol-note", "人行道护栏损坏")
    page.click("#patrol-issue")
    page.wait_for_selector("#patrol-log tr.result-issue", timeout=10000)

    # stop 3: an SOS alert arrives → the tour pauses and stays on this stop past its dwell time
    at_stop(page, 3)
    r = requests.get(f"{srv.url}/osmand", params={"id": SOS_DEVICE, "lat": stops[2]["center"][0],
                                                 "lon": stops[2]["center"][1], "timestamp": int(time.time()),
                                                 "alarm": "sos"})
    assert r.status_code == 200, r.text
    page.wait_for_selector('#patrol-root[data-run="paused"]', state="attached", timeout=10000)
    assert page.is_visible("#patrol-banner")
    page.screenshot(path=str(srv.tmp / "tour-paused.png"))
    page.wait_for_timeout((DWELL_S + 1.5) * 1000)
    assert page.evaluate("() => GCPatrol.state()") == {"tour": tour["id"], "index": 2, "paused": True}
    # the paused stop's camera outlived its 3 s stream: the tile opened it again, and it shows a picture
    here = [path for _, path in streams]  # stops 1 and 2 have other cameras
    assert here and here.count(here[-1]) >= 2, streams
    page.wait_for_function("() => document.querySelector('#patrol-cameras img').naturalWidth > 0", timeout=10000)
    assert requests.get(f"{srv.url}/api/v1/tours/{tour['id']}").json()["state"] == "paused"
    assert not scripts  # not on page load, not for MJPEG tiles
    page.click("#patrol-banner-resume")
    at_stop(page, 4)
    page.wait_for_selector('#patrol-cameras video[data-kind="hls"]', state="attached", timeout=10000)
    page.wait_for_function("() => !!window.Hls", timeout=10000)
    assert [u for u in scripts if u.endswith("/vendor/hls.min.js")]

    # stops 3–5 ran out their dwell time and are logged automatically as normal
    page.wait_for_function("() => document.getElementById('patrol-stop-title').textContent.includes('巡逻完成')",
                           timeout=30000)
    assert page.locator("#patrol-log tbody tr").count() == 5
    # the live coverage panel followed the patrol events: five grids covered by mouse patrol
    page.wait_for_selector('.gc-coverage[data-mouse="5"]', state="attached", timeout=10000)
    page.screenshot(path=str(srv.tmp / "tour-done.png"), full_page=True)

    detail = requests.get(f"{srv.url}/api/v1/tours/{tour['id']}").json()
    assert detail["state"] == "finished"
    log = sorted(detail["log"], key=lambda e: e["stop_index"])
    assert [e["grid_id"] for e in log] == [s["grid_id"] for s in stops]
    assert [(e["result"], e["auto"]) for e in log] == [("ok", False), ("issue", False), ("ok", True), ("ok", True),
                                                       ("ok", True)]
    case = requests.get(f"{srv.url}/api/v1/cases/{log[1]['case_id']}").json()
    assert case["grid_id"] == stops[1]["grid_id"] and case["source"] == "operator"
    assert "人行道护栏损坏" in case["description"]
    cov = {r["grid_id"]: r for r in requests.get(f"{srv.url}/api/v1/patrol/coverage").json()["grids"]}
    assert all(cov[s["grid_id"]]["mouse"] == 1 for s in stops)
    assert not outside, outside[:5]
