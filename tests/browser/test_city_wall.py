"""The wall of a city (#26 item 6): ``gen-city`` at a reduced size (1,200 grids in 40 communities, 2,400 workers), in headless Chromium against ``python run.py``.

A wall of more grids than ``wall_scope.WIDE_GRIDS`` shows communities until it is zoomed in: its snapshot has no
per-worker or per-grid detail, its title names the district from the data, its alert panel counts every open alert,
its first live frame comes within the target, and a case posted shows on the ticker and on the map. Zoomed in, the
grids of the view come from /api/v1/wall/grids and only what meets the view is painted.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, LiveServer
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRIDS, WORKERS, CASES = 1200, 2400, 20000
FIRST_FRAME_MS = 3000   # the target at full size (bench/city_wall.py); here a check with room for a loaded CI box
READY = "#wall-root[data-started]"
LIVE = "() => window.GCWall && GCWall.timing.first_frame && GCLive.lastSeq() !== null"
SHOTS = os.environ.get("GC_SHOTS")  # a folder: screenshots of the city wall are kept there


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    """A small city, generated once (and an alert: the panel must count it among the open ones)."""
    d = tmp_path_factory.mktemp("city")
    url = f"sqlite:///{d / 'city.db'}"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "gen-city", "--db", url, "--grids", str(GRIDS),
                        "--workers", str(WORKERS), "--cases", str(CASES)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return d / "city.db"


@pytest.fixture(scope="module")
def city_server(city_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("citysrv")
    db = tmp / "live.db"
    shutil.copy(city_db, db)
    # no simulator: its first steps start 2,400 shifts and hold the write turn for seconds on a loaded box (#26
    # item 5); bench/city_wall.py runs the full city with 20,000 workers walking
    srv = LiveServer(tmp, "--no-sim", db_url=f"sqlite:///{db}").start(timeout=150)
    yield srv
    srv.stop()


def centre_of_grid(db_url: str, gid: int) -> tuple[float, float]:
    eng = create_engine(db_url)
    try:
        with eng.connect() as c:
            return tuple(c.execute(text("SELECT centroid_lat, centroid_lon FROM grid WHERE id = :g"), {"g": gid}).one())
    finally:
        eng.dispose()


def shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, name))


def test_snapshot_of_a_city_wall_has_no_per_grid_detail(city_server):
    s = demo_http(city_server.url)
    wide = s.get(city_server.url + "/api/v1/snapshot?view=wall", timeout=30)
    plain = s.get(city_server.url + "/api/v1/snapshot", timeout=30)
    assert wide.status_code == plain.status_code == 200
    snap = wide.json()
    assert snap["wide"] is True and snap["workers"] == [] and snap["open_by_grid"] == {}
    stats = s.get(city_server.url + "/api/v1/wall/stats", timeout=30).json()  # per community, not per grid
    assert stats["wide"] is True and stats["grids"]["open"] == {}
    assert len(stats["communities"]["open"]) == GRIDS // 30  # every community has open cases
    assert len(wide.content) < len(plain.content) / 2, (len(wide.content), len(plain.content))
    assert s.get(city_server.url + "/api/v1/snapshot?view=map", timeout=10).status_code == 422
    # the grids of a view, with their outlines and counts; a bbox that is not one is refused naming it
    lat, lon = centre_of_grid(city_server.db_url, 1)
    r = s.get(city_server.url + "/api/v1/wall/grids",
              params={"bbox": f"{lon - 0.004},{lat - 0.004},{lon + 0.004},{lat + 0.004}"}, timeout=30)
    assert r.status_code == 200
    got = r.json()
    assert 1 in {g["id"] for g in got["grids"]} and len(got["grids"]) < 60 and not got["truncated"]
    assert all(g["rings"] and g["open"] >= 0 for g in got["grids"])
    for bad in ("", "1,2,3", "a,b,c,d", "109,34,108,35", "100,30,110,40"):
        r = s.get(city_server.url + "/api/v1/wall/grids", params={"bbox": bad}, timeout=10)
        assert r.status_code == 422 and r.json()["error"]["field"] == "bbox", (bad, r.text)


def test_city_wall_first_live_frame_ticker_and_zoom(pages, city_server):
    # a first wall warms the server (its first page builds the city's map, the 五治 panel, the stats); the
    # second is a wall of a control room that opens on a running server
    first, _ = pages(city_server.url + "/wall", wait_for=READY, timeout_ms=60000)
    first.wait_for_function(LIVE, timeout=60000)
    first.context.close()
    t0 = time.monotonic()
    page, watch = pages(city_server.url + "/wall", wait_for=READY, timeout_ms=30000)
    page.wait_for_function(LIVE, timeout=30000)
    timing = page.evaluate("() => GCWall.timing")
    # the wall's own part of the cold load (from its script's start: Dash's shell before it is the street wall's
    # too, and takes seconds on a loaded 2-CPU box); the bench holds the whole 3 s target at full size
    assert timing["first_frame"] - timing["page"] <= FIRST_FRAME_MS, timing
    assert timing["first_frame"] <= 5 * FIRST_FRAME_MS, timing
    page.wait_for_function("() => GCWall.map.ready()", timeout=30000)
    page.wait_for_selector(".wall-status-connected", timeout=30000)
    # the title names the district from the data, not the demo street
    title = page.inner_text(".wall-header h1")
    assert "合成区" in title and "西一路" not in title, title
    # communities until zoomed in: one shape per community, no worker dots, a scale that is not all red
    info = page.evaluate("""() => ({level: GCWall.map.level(), shapes: GCWall.map.rings.length,
        drawn: GCWall.map.shadeDrawn, workers: GCWall.map.points.workers.length, zmax: GCWall.map.zmax(),
        hi: document.querySelector('.wall-scale [data-role="hi"]').textContent,
        traces: document.getElementById('wall-map').data[0].locations.length})""")
    assert info["level"] == "communities" and info["shapes"] == info["traces"] == GRIDS // 30, info
    assert info["workers"] == 0 and info["zmax"] > 3 and info["hi"] == f"{info['zmax']}+", info
    shot(page, "city-wall-zh.png")
    # a case posted shows on the ticker (and its community's count moves)
    gid = 17
    lat, lon = centre_of_grid(city_server.db_url, gid)
    token = f"city-{uuid.uuid4().hex[:8]}"
    body = {"category_code": first_category(city_server.db_url), "description": token,
            "lat": lat, "lon": lon, "onsite": False}
    posted = time.monotonic()
    r = demo_http(city_server.url).post(city_server.url + "/api/v1/cases", json=body,
                                        headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=30)
    assert r.status_code == 201, r.text
    page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=token,
                           timeout=20000)
    ticker_s = time.monotonic() - posted
    page.wait_for_function("id => GCWall.map.loaded('cases').some(p => p.id === id)", arg=r.json()["id"], timeout=20000)
    # zoomed in past the threshold: the grids of the view are fetched and only those in view are painted
    page.evaluate("() => GCWall.map.map.jumpTo({center: [%f, %f], zoom: GCWall.cfg.wide.grid_zoom + 1})" % (lon, lat))
    page.wait_for_function("() => GCWall.map.level() === 'grids' && GCWall.map.gridRings.length > 0", timeout=20000)
    page.wait_for_function("() => GCWall.map.shadeDrawn > 0 && GCWall.map.shadeDrawn < GCWall.map.gridRings.length",
                           timeout=20000)
    zoomed = page.evaluate("() => ({drawn: GCWall.map.shadeDrawn, fetched: GCWall.map.gridRings.length, "
                           "workers: GCWall.map.points.workers.length})")
    assert zoomed["drawn"] < 400, zoomed
    shot(page, "city-wall-zoomed.png")
    watch.assert_clean()
    print(f"city wall: first frame {timing['first_frame']} ms, ticker {ticker_s * 1000:.0f} ms, "
          f"load to live {time.monotonic() - t0:.1f} s, zoomed {zoomed}")


def first_category(db_url: str) -> str:
    eng = create_engine(db_url)
    try:
        with eng.connect() as c:
            return c.execute(text("SELECT code FROM category WHERE active ORDER BY code LIMIT 1")).scalar_one()
    finally:
        eng.dispose()


def test_city_wall_speaks_english_and_counts_every_open_alert(pages, city_server):
    s = demo_http(city_server.url)
    open_alerts = s.get(city_server.url + "/api/v1/snapshot?view=wall", timeout=30).json()["alerts_open"]
    page, watch = pages(city_server.url + "/wall?lang=en", wait_for=READY, timeout_ms=30000)
    page.wait_for_function(LIVE, timeout=30000)
    title = page.inner_text(".wall-header h1")
    assert "Synthetic District" in title and "Xiyilu" not in title, title
    assert page.inner_text(".wall-scale-title") == "Open cases"
    if open_alerts > 2:
        more = int(page.get_attribute(".wall-alert-more", "data-more"))
        assert more >= open_alerts - 2, (more, open_alerts)
    shot(page, "city-wall-en.png")
    watch.assert_clean()
