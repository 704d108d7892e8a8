"""Video from the wall and the wall's details (#27 items 4 and 7), as an operator sees them.

One server for the module, with the simulator at a day hour (--sim-hour) that is not the real one: the street's
workers are on duty, and the wall's clock, hourly chart and "today" must follow the simulated hour.
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime

import pytest
import requests
from sqlalchemy import create_engine, text

from dashboard.timeutil import SHANGHAI
from tests.browser.patrol_helpers import START_TIMEOUT_S
from tests.conftest import LiveServer
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

REAL_HOUR = datetime.now(SHANGHAI).hour
SIM_HOUR = 10 if 13 <= REAL_HOUR <= 17 else 15  # a day-shift hour at least two hours from the real one
CJK_OR_LATIN = re.compile(r"^[\u0000-\u2e7f\u3000-\u9fff\uff00-\uffef]*$")  # no emoji, no private-use glyphs


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = LiveServer(tmp_path_factory.mktemp("wallvideo"), "--sim-hour", str(SIM_HOUR)).start(timeout=START_TIMEOUT_S)
    yield s
    s.stop()


@pytest.fixture
def ctxs(browser):
    opened = []

    def new(width: int = 1920, height: int = 1080):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        opened.append(ctx)
        return ctx.new_page()

    yield new
    for c in opened:
        c.close()


def open_wall(page, url: str, lang: str = "zh-CN") -> None:
    page.goto(f"{url}/wall?lang={lang}")
    page.wait_for_function("() => window.GCWall && GCWall.map.ready() && GCWall.map.placed.length > 100",
                           timeout=60000)
    page.wait_for_timeout(800)


def camera_xy(page, camera_id: int):
    """Where a camera's marker is on the screen, if it is on the map and nothing lies over it."""
    return page.evaluate("""(id) => {
        const gd = document.getElementById('wall-map'), t = gd.data[2], i = t.customdata.findIndex(c => c[0] === id);
        if (i < 0) return null;
        const p = GCWall.map.map.project([t.lon[i], t.lat[i]]), r = gd.getBoundingClientRect();
        const x = p.x + r.left, y = p.y + r.top;
        if (x < r.left + 20 || y < r.top + 20 || x > r.right - 20 || y > r.bottom - 20) return null;
        const hit = document.elementFromPoint(x, y);
        return hit && hit.tagName === 'CANVAS' && gd.contains(hit) ? [x, y] : null; }""", camera_id)


def cameras_with_workers(url: str, least: int = 1) -> list[dict]:
    """Camera views (grid cameras) whose grid has at least ``least`` on-duty workers, most workers first."""
    out = []
    for cam in requests.get(f"{url}/api/v1/cameras", timeout=10).json()["cameras"]:
        if cam["grid_id"]:
            v = requests.get(f"{url}/api/v1/cameras/{cam['id']}/view", timeout=10).json()
            if len([w for w in v["workers"] if w["distance_m"] is not None]) >= least:
                out.append(v)
    return sorted(out, key=lambda v: -len(v["workers"]))


def click_camera(page, views: list[dict]) -> dict:
    """Hover and click the first of ``views`` whose marker is in the clear; returns that view and the hover text."""
    for v in views:
        xy = camera_xy(page, v["camera"]["id"])
        if not xy:
            continue
        page.mouse.move(xy[0] - 4, xy[1] - 4)
        page.wait_for_timeout(300)
        page.mouse.move(xy[0], xy[1])
        try:
            page.wait_for_selector(".hoverlayer .hovertext", timeout=3000)
        except Exception:  # noqa: BLE001  (a grid's hover took it: try the next camera)
            continue
        hover = page.evaluate("() => document.querySelector('.hoverlayer .hovertext').textContent")
        if v["camera"]["code"] not in hover:
            continue
        page.mouse.down()
        page.mouse.up()
        page.wait_for_selector(f'#gc-cam[data-loaded="{v["camera"]["id"]}"]', state="attached", timeout=15000)
        return {**v, "hover": hover}
    raise AssertionError("no camera marker in the clear on the wall's map")


def distances(page) -> list[int]:
    return [int(m) for m in re.findall(r"(?:约 |~)(\d+)", page.inner_text("#gc-cam .gc-cam-workers"))]


def test_a_camera_click_on_the_wall_opens_its_video_and_calls_the_nearest_worker(srv, ctxs):
    wall = ctxs(1920, 1080)
    open_wall(wall, srv.url)
    v = click_camera(wall, cameras_with_workers(srv.url, least=2) or cameras_with_workers(srv.url))
    cam = v["camera"]
    # the camera's hover: its name and code in plain text (no emoji box), and what a click does
    assert cam["name"] in v["hover"] and "视频监控" in v["hover"] and "点击" in v["hover"]
    assert CJK_OR_LATIN.match(v["hover"]), v["hover"]
    # the live picture plays in a panel over the map
    wall.wait_for_function("() => { const i = document.querySelector('#gc-cam img.gc-cam-media');"
                           " return i && i.naturalWidth > 0; }", timeout=45000)  # a busy CI box: first frame
    panel = wall.locator("#gc-cam").bounding_box()
    layer = wall.locator(".wall-map-layer").bounding_box()
    assert layer["x"] <= panel["x"] and panel["x"] + panel["width"] <= layer["x"] + layer["width"] + 1
    assert wall.locator("#gc-cam img.gc-cam-media").bounding_box()["width"] >= 560  # ~600 design px at 1080p
    body = wall.inner_text("#gc-cam")
    assert cam["code"] in body and "本网格在岗网格员（由近及远）" in body and "drill." not in body
    # the grid's on-duty workers, nearest first, each with a one-click video call
    d = distances(wall)
    assert d and d == sorted(d), body
    rows = wall.locator("#gc-cam .gc-cam-workers li")
    assert rows.count() >= 1 and rows.count() == len(d) + wall.locator("#gc-cam .gc-cam-workers li", has_text=re.compile("暂无定位")).count()
    assert all(re.search(r"\*", rows.nth(i).inner_text()) and re.search(r"W\d{4}", rows.nth(i).inner_text())
               for i in range(rows.count()))
    nearest = int(rows.nth(0).get_attribute("data-worker-id"))
    wall.screenshot(path=str(srv.tmp / "wall-camera-1920.png"))

    # the nearest worker's phone (the call page stands in for /m) receives the call from the wall
    worker = ctxs(420, 860)
    worker.goto(f"{srv.url}/call?worker_id={nearest}")
    worker.wait_for_function("() => !!(window.GCCall && GCCall.joined())", timeout=20000)
    rows.nth(0).locator(".gc-call-btn").click()
    worker.wait_for_selector('.gc-call[data-state="ringing"]', state="attached", timeout=20000)
    assert wall.get_attribute(".gc-call", "data-state") == "calling"
    worker.click(".gc-call-action.answer")
    for page in (wall, worker):
        page.wait_for_selector('.gc-call[data-state="active"]', state="attached", timeout=30000)
        page.wait_for_function("""() => { const v = document.querySelector('.gc-call video[data-role=remote]');
            return v && v.getVideoPlaybackQuality().totalVideoFrames > 0; }""", timeout=20000)
    wall.screenshot(path=str(srv.tmp / "wall-camera-call.png"))
    wall.click(".gc-call-action.hangup")
    worker.wait_for_selector('.gc-call[data-state="ended"]', state="attached", timeout=15000)
    engine = create_engine(srv.db_url)
    with engine.connect() as c:
        row = c.execute(text("SELECT worker_id, state FROM video_call ORDER BY id DESC LIMIT 1")).one()
    engine.dispose()
    assert tuple(row) == (nearest, "ended")
    # closing the panel stops the stream
    wall.click("#gc-cam .gc-cam-close")
    assert wall.get_attribute("#gc-cam img.gc-cam-media", "src") == "data:,"


def test_camera_panel_in_english_at_1366_and_from_the_drilldown(srv, ctxs):
    wall = ctxs(1366, 768)
    open_wall(wall, srv.url, "en")
    v = click_camera(wall, cameras_with_workers(srv.url))
    assert "Camera" in v["hover"] and "Click" in v["hover"] and CJK_OR_LATIN.match(v["hover"])
    body = wall.inner_text("#gc-cam")
    assert "On-duty workers of this grid, nearest first" in body and "Video call" in body
    assert "drill." not in body and "本网格" not in body
    assert re.search(r"~\d+ m", body)
    panel = wall.locator("#gc-cam").bounding_box()
    assert panel["y"] + panel["height"] <= 768 and panel["width"] >= 0.7 * 600 * 1366 / 1920 * 0.99
    wall.screenshot(path=str(srv.tmp / "wall-camera-1366-en.png"))
    wall.click("#gc-cam .gc-cam-close")
    # a camera in a grid's register opens the same panel
    wall.evaluate(f"() => GCDrill.open({v['grid']['id']})")
    wall.wait_for_selector(f'#gc-drill[data-loaded="{v["grid"]["id"]}"]', state="attached", timeout=15000)
    wall.click(f'#gc-drill .gc-drill-cam[data-camera-id="{v["camera"]["id"]}"]')
    wall.wait_for_selector(f'#gc-cam[data-loaded="{v["camera"]["id"]}"]', state="attached", timeout=15000)
    assert wall.is_visible("#gc-cam img.gc-cam-media")


def test_worker_tooltip_names_the_worker_and_hover_labels_sit_above_the_markers(srv, ctxs):
    wall = ctxs(1920, 1080)
    open_wall(wall, srv.url)
    # a worker marker in the clear: its tooltip names the worker (masked) and code, not the database id
    xy = wall.evaluate("""() => { const r = document.getElementById('wall-map').getBoundingClientRect();
        const w = GCWall.map.placed.filter(p => p[3] === 'workers').map(p => [p[0] + r.left, p[1] + r.top])
          .filter(([x, y]) => { const h = document.elementFromPoint(x, y); return h && h.tagName === 'CANVAS'; });
        return w[Math.floor(w.length / 2)]; }""")
    wall.mouse.move(xy[0] + 1, xy[1] + 1)
    wall.wait_for_selector(".wall-tip:not([hidden])", state="visible", timeout=5000)
    tip = wall.inner_text(".wall-tip")
    assert re.match(r"网格员 \S*\*\S* · W\d{4}\n", tip), tip
    assert not re.search(r"#\d+", tip)
    # a grid's (Plotly) hover label over a crowd of markers: the markers do not show through it
    for _ in range(12):
        spot = wall.evaluate("""() => { const r = document.getElementById('wall-map').getBoundingClientRect();
            const w = GCWall.map.placed.filter(p => p[3] === 'workers');
            const p = w[Math.floor(Math.random() * w.length)]; return [p[0] + r.left - 40, p[1] + r.top - 12]; }""")
        wall.mouse.move(spot[0], spot[1])
        wall.wait_for_timeout(400)
        box = wall.evaluate("""() => { const h = document.querySelector('.hoverlayer .hovertext path');
            if (!h) return null; const b = h.getBoundingClientRect(), r = document.getElementById('wall-map').getBoundingClientRect();
            const inside = GCWall.map.placed.filter(p => p[3] === 'workers' && p[0] + r.left > b.left + 4 &&
              p[0] + r.left < b.right - 4 && p[1] + r.top > b.top + 4 && p[1] + r.top < b.bottom - 4);
            return inside.length ? [b.left, b.top, b.width, b.height, inside.length] : null; }""")
        if box:
            break
    assert box, "no hover label over a worker marker"
    # inside the label's body (its path also draws the little arrow to the pointer, on one side)
    png = wall.screenshot(clip={"x": box[0] + 10, "y": box[1] + 3, "width": box[2] - 20, "height": box[3] - 6})
    from io import BytesIO

    from PIL import Image

    im = Image.open(BytesIO(png)).convert("RGB")
    im.save(str(srv.tmp / "hover-label.png"))
    # the duty colours of the markers (not the "available" blue: the label's own border has it)
    duty = [(0x22, 0xC5, 0x5E), (0xF5, 0x9E, 0x0B), (0xF9, 0x73, 0x16), (0xFB, 0xBF, 0x24)]
    near = sum(1 for px in im.getdata() for c in duty if sum(abs(a - b) for a, b in zip(px, c)) < 40)
    assert near == 0, f"{near} marker-coloured pixels inside the hover label ({box[4]} markers under it)"


def test_drilldown_lists_every_place_of_the_grid(srv, ctxs):
    engine = create_engine(srv.db_url)
    with engine.connect() as c:
        gid = c.execute(text("SELECT grid_id FROM place WHERE kind IN ('shop', 'business', 'compound') GROUP BY grid_id "
                             "HAVING COUNT(DISTINCT kind) = 3 ORDER BY grid_id LIMIT 1")).scalar()
        names = [r[0] for r in c.execute(text("SELECT name FROM place WHERE grid_id = :g"), {"g": gid})]
    engine.dispose()
    assert gid and len(names) >= 3
    for lang, shop in (("zh-CN", "商铺"), ("en", "Shops")):
        wall = ctxs(1920, 1080)
        open_wall(wall, srv.url, lang)
        wall.evaluate(f"() => GCDrill.open({gid})")
        wall.wait_for_selector(f'#gc-drill[data-loaded="{gid}"]', state="attached", timeout=15000)
        shown = wall.inner_text('#gc-drill [data-sec="places"]')
        assert all(n in shown for n in names), [n for n in names if n not in shown]
        kinds = wall.eval_on_selector_all("#gc-drill .gc-drill-kind", "els => els.map(e => e.dataset.kind)")
        assert {"compound", "shop", "business"} <= set(kinds)
        assert wall.inner_text('#gc-drill .gc-drill-kind[data-kind="shop"] b').startswith(shop)
        assert "drill.kind" not in shown


def post_cases(srv: LiveServer, n: int) -> list[dict]:
    engine = create_engine(srv.db_url)
    with engine.connect() as c:
        cat = c.execute(text("SELECT code FROM category WHERE active ORDER BY code LIMIT 1")).scalar()
        lat, lon = c.execute(text("SELECT centroid_lat, centroid_lon FROM grid ORDER BY id LIMIT 1")).one()
    engine.dispose()
    out = []
    for i in range(n):
        body = {"category_code": cat, "description": f"墙面测试 {i} 路面有一处较长的破损需要处理，请尽快安排", "lat": lat,
                "lon": lon, "onsite": False}
        r = demo_http(srv.url).post(srv.url + "/api/v1/cases", json=body,
                                    headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=10)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def test_wall_details_sim_clock_hourly_ticker_legend_and_scaling(srv, ctxs):
    cases = post_cases(srv, 24)  # enough lines to fill the ticker
    # the server lives at the simulated hour: a case reported now is at that hour of today
    assert int(cases[0]["created_at"][11:13]) == SIM_HOUR
    stats = requests.get(f"{srv.url}/api/v1/wall/stats", timeout=10).json()
    assert int(stats["time"][11:13]) == SIM_HOUR and stats["hourly"]["today"][SIM_HOUR] >= 24
    assert sum(stats["hourly"]["today"][SIM_HOUR + 1:]) == 0
    sizes = {}
    for w, h in ((1366, 768), (3840, 2160)):
        wall = ctxs(w, h)
        open_wall(wall, srv.url)
        wall.wait_for_selector(".gc-coverage--wall .gc-coverage-kpi", timeout=15000)
        clock = wall.inner_text("#wall-clock")
        assert int(clock[-8:-6]) == SIM_HOUR, clock  # the clock shows the simulated hour
        # the hourly chart draws today up to this hour and no further
        dots = wall.eval_on_selector_all("#wall-hourly .wall-dot-today", "els => els.length")
        line = wall.get_attribute("#wall-hourly .wall-line-today", "points").split()
        assert dots == len(line) == SIM_HOUR + 1
        # the last ticker row is whole: every row that shows is inside the list
        cut = wall.evaluate("""() => { const ol = document.getElementById('wall-ticker').getBoundingClientRect();
            const rows = [...document.querySelectorAll('#wall-ticker > li')].map(li => li.getBoundingClientRect());
            const seen = rows.filter(r => r.right > ol.left && r.left < ol.right && r.bottom > ol.top && r.top < ol.bottom);
            return {n: rows.length, seen: seen.length,
                    cut: seen.filter(r => r.bottom > ol.bottom + 0.5 || r.right > ol.right + 0.5).length}; }""")
        assert cut["n"] > cut["seen"] >= 3 and cut["cut"] == 0, cut
        # the shading's colour scale in the legend
        assert wall.is_visible(".wall-legend .wall-scale .wall-scale-bar")
        assert wall.inner_text(".wall-scale .wall-scale-title") == "未结事件"
        boxes = wall.evaluate("""() => Object.fromEntries(['.wall-map-layer', '.gc-coverage--wall', '.wall-legend',
            '.wall-panel-kpi'].map(s => { const b = document.querySelector(s).getBoundingClientRect();
            return [s, [b.width, b.height]]; }))""")
        sizes[w] = boxes
        wall.screenshot(path=str(srv.tmp / f"wall-{w}.png"))
    # the coverage box scales with the wall like every other panel: the same share of the map at both sizes
    for sel in (".gc-coverage--wall", ".wall-legend", ".wall-panel-kpi"):
        small = sizes[1366][sel][0] / sizes[1366][".wall-map-layer"][0]
        big = sizes[3840][sel][0] / sizes[3840][".wall-map-layer"][0]
        assert big == pytest.approx(small, rel=0.03), (sel, small, big)
    # the measure's name and range follow the operator's choice, in either language
    wall.select_option("#wall-measure", "today")
    assert wall.inner_text(".wall-scale .wall-scale-title") == "今日事件"
    assert wall.inner_text(".wall-scale [data-role=hi]") == "4+"
    en = ctxs(1920, 1080)
    open_wall(en, srv.url, "en")
    assert en.inner_text(".wall-scale .wall-scale-title") == "Open cases"


SOS_DEVICE = "XY422935"  # W0001 of the demo street


def alarm(url: str, kind: str, lat: float, lon: float) -> None:
    r = requests.get(f"{url}/osmand", params={"id": SOS_DEVICE, "lat": lat, "lon": lon,
                                             "timestamp": int(time.time()), "alarm": kind}, timeout=45)
    assert r.status_code == 200, r.text


def test_patrol_tiles_fit_1080p_unpatrolled_count_and_only_severe_alerts_pause(srv, ctxs):
    grids = []
    for cam in requests.get(f"{srv.url}/api/v1/cameras", timeout=10).json()["cameras"]:
        if cam["grid_id"] and cam["grid_id"] not in grids:
            grids.append(cam["grid_id"])
    tour = demo_http(srv.url).post(f"{srv.url}/api/v1/tours", json={
        "name": "严重告警才暂停", "stops": [{"grid_id": g, "dwell_s": 120} for g in grids[:2]]}).json()
    page = ctxs(1920, 1080)
    page.goto(f"{srv.url}/patrol")
    page.wait_for_selector("#patrol-tour-select", state="attached", timeout=60000)
    # a "not patrolled today" tour says how many of its stops have no camera
    page.select_option("#patrol-gen-kind", "unpatrolled")
    page.click("#patrol-generate")
    page.wait_for_function("() => /站无摄像头|每站都有摄像头/.test(document.getElementById('patrol-message').textContent)",
                           timeout=15000)
    page.wait_for_selector(f'#patrol-tour-select option[value="{tour["id"]}"]', state="attached", timeout=15000)
    page.select_option("#patrol-tour-select", str(tour["id"]))
    page.click("#patrol-start")
    page.wait_for_function("() => { const i = document.querySelector('#patrol-cameras img');"
                           " return i && i.naturalWidth > 0; }", timeout=45000)
    tile = page.locator("#patrol-cameras figure").first.bounding_box()
    assert tile["y"] >= 0 and tile["y"] + tile["height"] <= 1080 and tile["width"] >= 480, tile
    assert page.evaluate("() => document.scrollingElement.scrollTop") == 0
    page.screenshot(path=str(srv.tmp / "patrol-1080.png"))
    # which alerts pause: severe and extreme ones, new or raised to severe; not minor, moderate or exercises
    rule = page.evaluate("""() => [['created', 'minor'], ['created', 'moderate'], ['created', 'severe'],
        ['updated', 'extreme'], ['acknowledged', 'severe'], ['created', 'severe', 'exercise']].map(([action, sev, ch]) =>
        GCPatrol.pausesTour({type: 'alert', payload: {action: action, alert: {id: 1, severity: sev,
          state: action === 'acknowledged' ? 'acknowledged' : 'new', channel: ch || 'actual'}}}))""")
    assert rule == [False, False, True, True, False, False]
    center = tour["stops"][0]["center"]
    alarm(srv.url, "lowBattery", *center)  # minor
    alarm(srv.url, "powerCut", *center)  # moderate
    page.wait_for_timeout(4000)
    # (the street's own severe alerts, an overdue case say, may pause it meanwhile: never these two)
    banner = page.inner_text("#patrol-banner") if page.is_visible("#patrol-banner") else ""
    assert "电量低" not in banner and "断电" not in banner, banner
    if page.get_attribute("#patrol-root", "data-run") == "paused":
        page.click("#patrol-banner-resume")
        page.wait_for_selector('#patrol-root[data-run="running"]', state="attached", timeout=10000)
    alarm(srv.url, "fallDown", *center)  # severe
    page.wait_for_function("() => document.getElementById('patrol-banner').textContent.includes('跌倒')",
                           timeout=15000)
    assert page.get_attribute("#patrol-root", "data-run") == "paused"
    assert "严重告警" in page.inner_text("#patrol-banner")
    page.click("#patrol-banner-resume")
    page.wait_for_selector('#patrol-root[data-run="running"]', state="attached", timeout=10000)
    page.click("#patrol-finish")


def test_patrol_messages_in_english(srv, ctxs):
    page = ctxs(1366, 768)
    page.goto(f"{srv.url}/patrol?lang=en")
    page.wait_for_selector("#patrol-tour-select", state="attached", timeout=60000)
    page.select_option("#patrol-gen-kind", "unpatrolled")
    page.click("#patrol-generate")
    page.wait_for_function("() => /stops have no camera|every stop has a camera/"
                           ".test(document.getElementById('patrol-message').textContent)", timeout=15000)
    assert "patrol." not in page.inner_text("#patrol-message")


def test_a_wall_without_camera_or_microphone_still_sees_the_worker(srv, ctxs):
    """A wall PC has no camera and often no microphone: the call still connects and the wall gets the worker's
    picture (it sends nothing; the worker's phone sends both)."""
    wall = ctxs(1920, 1080)
    wall.add_init_script("""navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));""")
    open_wall(wall, srv.url)
    click_camera(wall, cameras_with_workers(srv.url))
    row = wall.locator("#gc-cam .gc-cam-workers li").first
    wid = int(row.get_attribute("data-worker-id"))
    worker = ctxs(420, 860)
    worker.goto(f"{srv.url}/call?worker_id={wid}")
    worker.wait_for_function("() => !!(window.GCCall && GCCall.joined())", timeout=20000)
    row.locator(".gc-call-btn").click()
    worker.wait_for_selector('.gc-call[data-state="ringing"]', state="attached", timeout=20000)
    worker.click(".gc-call-action.answer")
    wall.wait_for_selector('.gc-call[data-state="active"]', state="attached", timeout=30000)
    wall.wait_for_function("""() => { const v = document.querySelector('.gc-call video[data-role=remote]');
        return v && v.getVideoPlaybackQuality().totalVideoFrames > 0; }""", timeout=20000)
    assert wall.evaluate("() => !document.querySelector('.gc-call video[data-role=local]').srcObject")
    wall.click(".gc-call-action.hangup")
    worker.wait_for_selector('.gc-call[data-state="ended"]', state="attached", timeout=15000)
