"""GCJ-02 tiles on every map page (GC_TILE_CRS=gcj02): each page asks for the tiles and draws stored WGS-84 where
the tiles have it, in GCJ-02 — the figure the server built (grid outlines) and what the page's script adds later
(a worker's position, the GPS fix, a case, a patrol stop).

The tiles come from a small HTTP server this module runs (no internet); the expected GCJ-02 positions are
computed here by dashboard/geo/coords.py, the page's by its own script (GCGeo).
"""
from __future__ import annotations

import io
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from dashboard.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from tests.browser.conftest import watch_page
from tests.conftest import LiveServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

W0001_DEVICE = "XY422935"


class TileServer:
    """Serves one grey 256×256 PNG for every /tiles/z/x/y.png and remembers what was asked."""

    def __init__(self) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (200, 205, 210)).save(buf, "PNG")
        png, seen = buf.getvalue(), []
        self.seen: list[tuple[int, int, int]] = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 4 or parts[0] != "tiles" or not parts[3].endswith(".png"):
                    self.send_error(404)
                    return
                seen.append((int(parts[1]), int(parts[2]), int(parts[3][:-4])))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.send_header("Access-Control-Allow-Origin", "*")  # MapLibre fetches tiles cross-origin
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/tiles/{{z}}/{{x}}/{{y}}.png"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tiles():
    srv = TileServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiles):
    srv = LiveServer(tmp_path_factory.mktemp("tiles"), "--no-sim",
                     env={"GC_TILE_URL": tiles.url, "GC_TILE_CRS": "gcj02"}).start(timeout=180)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def grids(server) -> dict[int, dict]:
    fc = requests.get(f"{server.url}/api/v1/grids", timeout=10).json()
    return {f["id"]: f for f in fc["features"]}


def gcj(lat: float, lon: float) -> tuple[float, float]:
    return tuple(float(v) for v in wgs84_to_gcj02(lat, lon))


def first_vertex(feature: dict) -> tuple[float, float]:
    """(lat, lon) of a grid's first outline vertex, as stored (WGS-84)."""
    g = feature["geometry"]
    p = g["coordinates"][0][0] if g["type"] == "Polygon" else g["coordinates"][0][0][0]
    return p[1], p[0]


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    s = math.sin(math.radians(lat))
    return z, int((lon + 180) / 360 * n), int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)


def wait_until(fn, timeout: float = 30, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def assert_tiles_under_the_map(page, tiles, graph: str) -> None:
    """``graph``: a CSS selector of the plotted div. The page asked the tile server for tiles, the one under the map's (GCJ-02) centre among them."""
    view = page.evaluate(f"""() => {{ const gd = document.querySelector('{graph}');
        return {{center: gd.layout.map.center, zoom: gd.layout.map.zoom}}; }}""")
    # MapLibre's zoom counts 512-px tiles; a 256-px raster source is asked at round(zoom + 1)
    z = round(view["zoom"] + 1)
    want = tile_of(view["center"]["lat"], view["center"]["lon"], z)
    wait_until(lambda: want in tiles.seen, what=f"tile {want} of the map's centre (asked: {tiles.seen[:8]})")


def assert_says_gcj02(page, graph: str) -> None:
    """The figure tells its page script the datum it is drawn in (GCGeo.crsOf)."""
    assert page.evaluate(f"() => (document.querySelector('{graph}').layout.meta || {{}}).crs") == "gcj02"


def assert_outlines_in_gcj02(coords: set[tuple[float, float]], grids: dict[int, dict], n: int = 5) -> None:
    """Grid vertices in the figure are the stored ones moved to GCJ-02 (and not the stored ones)."""
    for f in list(grids.values())[:n]:
        lat, lon = first_vertex(f)
        g_lat, g_lon = gcj(lat, lon)
        assert (round(g_lat, 6), round(g_lon, 6)) in coords, f["id"]
        assert (round(lat, 6), round(lon, 6)) not in coords, f["id"]


def figure_coords(page, graph: str, trace: int) -> set[tuple[float, float]]:
    pairs = page.evaluate(f"""() => {{ const t = document.querySelector('{graph}').data[{trace}];
        if (t.geojson) {{ return t.geojson.features.flatMap(f => (f.geometry.type === 'Polygon'
            ? f.geometry.coordinates : f.geometry.coordinates.flat()).flat().map(p => [p[1], p[0]])); }}
        return t.lat.map((la, i) => [la, t.lon[i]]).filter(p => p[0] !== null); }}""")
    return {(round(a, 6), round(b, 6)) for a, b in pairs}


def new_page(browser, **kw):
    ctx = browser.new_context(**({"viewport": {"width": 1600, "height": 1000}} | kw))
    page = ctx.new_page()
    return ctx, page, watch_page(page)


def test_wall_tiles_and_live_worker_in_gcj02(browser, server, tiles, grids):
    tiles.seen.clear()
    ctx, page, watch = new_page(browser, viewport={"width": 1920, "height": 1080})
    try:
        page.goto(server.url + "/wall")
        page.wait_for_function("() => window.GCWall && GCWall.map.ready()", timeout=60000)
        assert_tiles_under_the_map(page, tiles, "#wall-map")
        assert_outlines_in_gcj02(figure_coords(page, "#wall-map", 0), grids)
        assert_says_gcj02(page, "#wall-map")
        # an SOS pushed after the page loaded: its alert is drawn where the GCJ-02 tiles have the spot
        lat, lon = first_vertex(next(iter(grids.values())))
        lat, lon = round(lat + 0.0004, 6), round(lon + 0.0003, 6)
        r = requests.get(f"{server.url}/osmand", params={"id": W0001_DEVICE, "lat": lat, "lon": lon,
                                                         "timestamp": int(time.time()), "alarm": "sos"}, timeout=10)
        assert r.status_code == 200, r.text
        got = wait_until(lambda: page.evaluate(f"""() => {{
            const p = GCWall.map.points.alerts.find(m => Math.abs(m.props.d.lat - {lat}) < 1e-6
                                                       && Math.abs(m.props.d.lon - {lon}) < 1e-6);
            return p ? [p.props.d.lat, p.props.d.lon, p.lat, p.lon] : null; }}"""), what="the SOS on the wall's map")
        want = gcj(got[0], got[1])
        assert abs(got[2] - want[0]) <= 1e-9 and abs(got[3] - want[1]) <= 1e-9
        watch.assert_clean()
    finally:
        ctx.close()


def test_mobile_gps_dot_and_crosshair_in_gcj02(browser, server, tiles, grids):
    from shapely.geometry import shape

    tiles.seen.clear()
    w = requests.get(f"{server.url}/api/v1/workers", params={"q": "W0001"}, timeout=10).json()["items"][0]
    f = next(x for x in grids.values() if x["properties"]["code"] == w["grid_code"])
    spot = shape(f["geometry"]).representative_point()
    lat, lon = spot.y, spot.x
    ctx, page, watch = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
                                permissions=["geolocation"], locale="zh-CN")
    try:
        page.goto(server.url + "/m")
        page.wait_for_selector("#m-signin:not([hidden])")
        page.fill("#m-demo-code", "W0001")
        page.click("#m-demo-go")
        page.wait_for_function("() => window.GCMobile && GCMobile.state() && GCMobile.state().signedIn")
        page.click("#m-tab-report")
        page.wait_for_function("() => GCMobile.state().loc && GCMobile.state().loc.src === 'gps'")
        want = gcj(lat, lon)
        dot = wait_until(lambda: page.evaluate(f"""() => {{
            const t = document.querySelector('#m-map .js-plotly-plot').data[2];
            return Math.abs(t.lat[0] - {want[0]}) < 1e-6 ? [t.lat[0], t.lon[0]] : null; }}"""),
            what="the GPS dot at the GCJ-02 position")
        assert abs(dot[0] - want[0]) <= 1e-9 and abs(dot[1] - want[1]) <= 1e-9
        loc = page.evaluate("() => GCMobile.state().loc")
        assert (loc["lat"], loc["lon"]) == (lat, lon)  # the report still says WGS-84
        assert_tiles_under_the_map(page, tiles, "#m-map .js-plotly-plot")
        assert_outlines_in_gcj02(figure_coords(page, "#m-map .js-plotly-plot", 0), grids)
        assert_says_gcj02(page, "#m-map .js-plotly-plot")
        # the worker drags the map: the cross-hair (map centre, GCJ-02) becomes a WGS-84 report location
        c_lat, c_lon = want[0] + 0.0005, want[1] - 0.0004
        page.evaluate(f"() => GCMobile.mapMoved({{'map.center': {{lat: {c_lat}, lon: {c_lon}}}}})")
        loc = page.evaluate("() => GCMobile.state().loc")
        back = tuple(float(v) for v in gcj02_to_wgs84(c_lat, c_lon))
        assert loc["src"] == "map"
        assert abs(loc["lat"] - back[0]) <= 1e-9 and abs(loc["lon"] - back[1]) <= 1e-9
        assert abs(loc["lat"] - c_lat) > 1e-3 or abs(loc["lon"] - c_lon) > 1e-3  # really converted
        watch.assert_clean()
    finally:
        ctx.close()


def test_mobile_task_card_map_draws_the_configured_tiles_in_gcj02(browser, server, tiles, grids):
    """The task card's small map (issue 27 item 6) takes tiles from GC_TILE_URL only, the case drawn where the
    GCJ-02 tiles have it: the tile under the case's GCJ-02 point is among those the card shows."""
    import re

    from shapely.geometry import shape

    from tests.utils.page_client import demo_http

    w = requests.get(f"{server.url}/api/v1/workers", params={"q": "W0005"}, timeout=10).json()["items"][0]
    f = next(x for x in grids.values() if x["properties"]["code"] == w["grid_code"])
    spot = shape(f["geometry"]).representative_point()
    lat, lon = spot.y, spot.x
    ctx, page, watch = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                geolocation={"latitude": lat - 0.001, "longitude": lon, "accuracy": 8},
                                permissions=["geolocation"], locale="zh-CN")
    try:
        page.goto(server.url + "/m")
        page.wait_for_selector("#m-signin:not([hidden])")
        page.fill("#m-demo-code", "W0005")
        page.click("#m-demo-go")
        page.wait_for_function("() => window.GCMobile && GCMobile.state() && GCMobile.state().signedIn")
        desk = demo_http(server.url)
        cid = desk.post(f"{server.url}/api/v1/cases", json={"category_code": "0101", "description": "瓦片测试",
                                                            "lat": lat, "lon": lon}, timeout=10).json()["id"]
        assert desk.post(f"{server.url}/api/v1/cases/{cid}/actions/dispatch", json={"worker_id": w["id"]},
                         timeout=10).status_code == 200
        card = f"li.m-task[data-case-id='{cid}']"
        page.wait_for_selector(f"{card} svg.m-task-map circle[data-mark='me']", timeout=15000)
        hrefs = page.eval_on_selector_all(f"{card} svg.m-task-map image", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs and all(h.startswith(f"http://127.0.0.1:{tiles.port}/tiles/") for h in hrefs), hrefs
        z = int(re.search(r"/tiles/(\d+)/", hrefs[0]).group(1))
        _, x, y = tile_of(*gcj(lat, lon), z)
        assert f"/tiles/{z}/{x}/{y}.png" in " ".join(hrefs)
        # the red dot sits on that tile where the GCJ-02 point is: its offset inside the tile matches
        n = 256 * 2 ** z
        g_lat, g_lon = gcj(lat, lon)
        s = math.sin(math.radians(g_lat))
        px, py = (g_lon + 180) / 360 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
        img = page.eval_on_selector(f"{card} svg.m-task-map image[href$='/{z}/{x}/{y}.png']",
                                    "e => [parseFloat(e.getAttribute('x')), parseFloat(e.getAttribute('y'))]")
        dot = page.eval_on_selector(f"{card} circle[data-mark='task']",
                                    "e => [parseFloat(e.getAttribute('cx')), parseFloat(e.getAttribute('cy'))]")
        assert abs(dot[0] - img[0] - (px - x * 256)) < 0.01 and abs(dot[1] - img[1] - (py - y * 256)) < 0.01
        wait_until(lambda: (z, x, y) in tiles.seen, what="the card's tile fetched from the tile server")
        watch.assert_clean()
    finally:
        ctx.close()


def test_console_case_and_workers_in_gcj02(browser, server, tiles, grids):
    tiles.seen.clear()
    ctx, page, watch = new_page(browser)
    try:
        page.goto(server.url + "/console")
        page.wait_for_function("() => { const gd = document.querySelector('#console-map .js-plotly-plot');"
                               " return gd && gd._fullLayout && gd._fullLayout.map && window.GCConsole; }",
                               timeout=60000)
        assert_tiles_under_the_map(page, tiles, "#console-map .js-plotly-plot")
        assert_outlines_in_gcj02(figure_coords(page, "#console-map .js-plotly-plot", 0), grids)
        assert_says_gcj02(page, "#console-map .js-plotly-plot")
        lat, lon = first_vertex(next(iter(grids.values())))
        page.evaluate(f"""() => window.dash_clientside.console.focus({{case: [{lat}, {lon}, 'C1'],
            center: {{lat: {lat}, lon: {lon}}}, workers: [[{lat + 0.001}, {lon}, 'W1']]}})""")
        got = wait_until(lambda: page.evaluate("""() => { const gd = document.querySelector('#console-map .js-plotly-plot');
            return gd.data[2].lat.length && Math.abs(gd.layout.map.zoom - 15.5) < 1e-9 ? {case: [gd.data[2].lat[0],
            gd.data[2].lon[0]], worker: [gd.data[1].lat[0], gd.data[1].lon[0]], center: gd.layout.map.center} : null; }"""),
            what="the focused case on the console map")
        for (a, b), (la, lo) in [(got["case"], (lat, lon)), (got["worker"], (lat + 0.001, lon)),
                                 ((got["center"]["lat"], got["center"]["lon"]), (lat, lon))]:
            want = gcj(la, lo)
            assert abs(a - want[0]) <= 1e-9 and abs(b - want[1]) <= 1e-9
        watch.assert_clean()
    finally:
        ctx.close()


def test_patrol_keeps_the_tiles_and_flies_to_the_stop_in_gcj02(browser, server, tiles, grids):
    tiles.seen.clear()
    gid = next(c["grid_id"] for c in requests.get(f"{server.url}/api/v1/cameras", timeout=10).json()["cameras"]
               if c["grid_id"])
    ctx, page, watch = new_page(browser)
    try:
        page.goto(server.url + "/patrol")
        # the demo operator's changes carry the page's CSRF token: the tour is made from the page
        page.wait_for_selector("#patrol-tour-select", state="attached", timeout=60000)
        tour = page.evaluate(f"""() => fetch('/api/v1/tours', {{method: 'POST', credentials: 'same-origin',
            headers: {{'Content-Type': 'application/json'}},
            body: JSON.stringify({{name: '瓦片测试', stops: [{{grid_id: {gid}, dwell_s: 60}}]}})}}).then(r => r.json())""")
        page.reload()
        page.wait_for_selector(f'#patrol-tour-select option[value="{tour["id"]}"]', state="attached",
                               timeout=60000)
        page.wait_for_function("() => { const gd = document.querySelector('#patrol-map .js-plotly-plot');"
                               " return gd && gd._fullLayout && gd._fullLayout.map; }", timeout=60000)
        assert_tiles_under_the_map(page, tiles, "#patrol-map .js-plotly-plot")
        assert_outlines_in_gcj02(figure_coords(page, "#patrol-map .js-plotly-plot", 0), grids)
        assert_says_gcj02(page, "#patrol-map .js-plotly-plot")
        page.select_option("#patrol-tour-select", str(tour["id"]))
        page.click("#patrol-start")
        ring = wait_until(lambda: page.evaluate("""() => { const t = document.querySelector('#patrol-map .js-plotly-plot')
            .data[1]; return t.lat && t.lat.length ? [t.lat[0], t.lon[0]] : null; }"""), what="the stop's outline")
        want = gcj(*first_vertex(grids[gid]))
        assert abs(ring[0] - want[0]) <= 1e-9 and abs(ring[1] - want[1]) <= 1e-9
        center = page.evaluate("() => document.querySelector('#patrol-map .js-plotly-plot').layout.map.center")
        want = gcj(*tour["stops"][0]["center"])
        assert abs(center["lat"] - want[0]) <= 1e-9 and abs(center["lon"] - want[1]) <= 1e-9
        page.click("#patrol-finish")
        watch.assert_clean()
    finally:
        ctx.close()
