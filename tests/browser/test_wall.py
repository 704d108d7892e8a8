"""The wall in headless Chromium against ``python run.py``: clean load, live cases and alerts, restart catch-up."""
from __future__ import annotations

import io
import re
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from layouts.wall.panels import axis_top
from tests.conftest import LiveServer
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START_S = 150  # seeding the demo street takes seconds, minutes on a machine shared with other suites
LIVE_MS = 20000  # "appears" checks, not latency checks (bench/wall_latency.py measures those)
READY = "#wall-root[data-started]"
MAP_READY = "() => window.GCWall && GCWall.map.ready() && GCLive.lastSeq() !== null"


@pytest.fixture(scope="module")
def wall_server(tmp_path_factory):
    """One quiet server (no simulator) for the tests that do not restart it."""
    srv = LiveServer(tmp_path_factory.mktemp("wall"), "--no-sim").start(timeout=START_S)
    yield srv
    srv.stop()


def world(db_url: str) -> dict:
    """A category, three grid centres and a device id from the server's database."""
    from dashboard.db import Database
    from dashboard.models import Category, Grid, Worker

    db = Database(db_url)
    try:
        with db.read() as s:
            cat = s.scalar(select(Category.code).where(Category.active.is_(True)).order_by(Category.code))
            grids = s.execute(select(Grid.id, Grid.community_id, Grid.centroid_lat, Grid.centroid_lon)
                              .order_by(Grid.id).limit(40)).all()
            device = s.scalar(select(Worker.device_id).where(Worker.device_id.is_not(None)).order_by(Worker.id))
    finally:
        db.dispose()
    return {"category": cat, "grids": [tuple(g) for g in grids], "device": device}


def post_case(srv: LiveServer, category: str, lat: float, lon: float, text: str) -> dict:
    body = {"category_code": category, "description": text, "lat": lat, "lon": lon, "onsite": False}
    r = demo_http(srv.url).post(srv.url + "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex},
                                timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def kpi(page, name: str) -> int:
    return int(page.inner_text(f"#wall-kpi-{name}").replace(",", ""))


def open_wall(pages, srv: LiveServer, query: str = "", timeout_ms: int = 20000, **kw):
    page, watch = pages(srv.url + "/wall" + query, wait_for=READY, timeout_ms=timeout_ms, **kw)
    page.wait_for_function(MAP_READY, timeout=timeout_ms)
    page.wait_for_selector(".wall-status-connected", timeout=timeout_ms)
    return page, watch


def ticker_count(page, text: str) -> int:
    return page.evaluate("t => Array.from(document.querySelectorAll('#wall-ticker li.wall-tick'))"
                         ".filter(li => li.textContent.includes(t)).length", text)


def test_wall_loads_clean_scaled_and_offline(pages, wall_server):
    page, watch = open_wall(pages, wall_server)
    title = page.inner_text(".wall-header h1")
    assert "西一路街道" in title and "网格化服务管理指挥中心" in title
    page.wait_for_function("() => /\\d{4}-\\d{2}-\\d{2} .+ \\d{2}:\\d{2}:\\d{2}/.test("
                           "document.getElementById('wall-clock').textContent)")
    info = page.evaluate("""() => { const gd = document.getElementById('wall-map');
        return {grids: gd.data[GCWall.cfg.traces.grids].locations.length, sw: document.documentElement.scrollWidth,
                sh: document.documentElement.scrollHeight, iw: innerWidth, ih: innerHeight,
                style: gd._fullLayout.map.style} }""")
    assert info["grids"] == 301
    assert info["sw"] <= info["iw"] and info["sh"] <= info["ih"], "no scrollbars"
    assert "glyphs" not in info["style"] and all(s.get("type") != "vector" for s in info["style"]["sources"].values())
    assert kpi(page, "on_duty") == 0  # no simulator: everyone offline
    assert page.is_visible(".wall-lang") and page.is_visible("#wall-measure")
    # plotly.js is the app's partial bundle, and it holds every trace type the code draws
    traces = set(page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces)"))
    assert trace_types_in_code() <= traces and "scatter3d" not in traces, traces
    # the charts' count axes step by the same rule on the page as on the server
    values = [0, 1, 5, 6, 11, 21, 49, 51, 101, 199, 201, 999, 1001, 4321]
    assert page.evaluate("vs => vs.map(v => GCWall.axisTop(v))", values) == [axis_top(v) for v in values]
    time.sleep(1.5)  # let late requests (chunks, fonts) show up
    watch.assert_clean()


def trace_types_in_code() -> set[str]:
    """Every ``go.<Trace>(`` in the Python code and every ``type: "<trace>"`` in the page scripts."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = set()
    for f in [*root.glob("layouts/**/*.py"), *root.glob("callbacks/*.py"), *root.glob("dashboard/**/*.py")]:
        found |= {m.lower() for m in re.findall(r"\bgo\.([A-Z][A-Za-z]+)\(", f.read_text(encoding="utf-8"))}
    for f in root.glob("dashboard/assets/*.js"):
        found |= set(re.findall(r"""type["']?\s*:\s*["'](scatter\w*|bar|funnel|choropleth\w*|pie)["']""",
                                f.read_text(encoding="utf-8")))
    found.discard("figure")
    assert {"scattermap", "bar", "funnel"} <= found, found  # the scan itself works
    return found


def test_live_layers_paint_before_the_map_has_started_and_where_the_map_puts_them(pages, wall_server):
    w = world(wall_server.db_url)
    _, _, lat, lon = w["grids"][3]
    case = post_case(wall_server, w["category"], lat, lon, f"wall-early-{uuid.uuid4().hex[:8]}")
    # plotly.js (and so MapLibre) held back: the snapshot's markers and the shading are painted without it
    page, watch = open_wall(pages, wall_server, slow={"**/plotly/package_data/plotly.min.js*": 3}, timeout_ms=40000)
    timing = page.evaluate("() => GCWall.timing")
    assert timing["first_frame"] < timing["plotly"] <= timing["map_idle"], timing
    assert case["code"] in page.evaluate("() => GCWall.map.loaded('cases').map(c => c.code)")
    # the projection the canvases painted with until then is the map's own, to the pixel
    worst = page.evaluate("""() => { const w = GCWall, m = w.map, c = m.map.getCanvas();
        const v = GCWallMap.mercator(w.cfg.figure.layout.map.center, m.zoomFor(m.scale), c.clientWidth, c.clientHeight);
        let worst = 0;
        m.rings.forEach(g => g[1][0].forEach(ll => { const a = v.project(ll), b = m.map.project(ll);
            worst = Math.max(worst, Math.abs(a.x - b.x), Math.abs(a.y - b.y)); }));
        return worst; }""")
    assert worst < 0.5, f"provisional projection off by {worst:.2f} px"
    watch.assert_clean()


def map_shot(page):
    """The map's area of the screen as a person sees it, as RGB."""
    from PIL import Image

    box = page.evaluate("""() => { const r = document.querySelector('.wall-map-layer').getBoundingClientRect();
        return {x: r.left, y: r.top, width: r.width, height: r.height}; }""")
    return Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")


def differing_pixels(a, b, tolerance: int = 24) -> int:
    from PIL import ImageChops

    return sum(1 for px in ImageChops.difference(a, b).get_flattened_data() if max(px) > tolerance)


def test_a_still_map_is_shown_from_a_copy_that_looks_the_same_and_a_drag_still_pans_it(pages, wall_server):
    page, watch = open_wall(pages, wall_server)
    # standing still, MapLibre's canvas is copied under the markers and made transparent (not composited)
    page.wait_for_function("() => !!GCWall.map.still", timeout=LIVE_MS)
    assert page.evaluate("() => getComputedStyle(GCWall.map.map.getCanvas()).opacity") == "0"
    still = map_shot(page)
    page.evaluate("() => GCWall.map.thaw()")  # the live WebGL canvas again, same camera
    page.wait_for_function("() => getComputedStyle(GCWall.map.map.getCanvas()).opacity === '1'")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    live = map_shot(page)
    assert differing_pixels(still, live) < 50, "the copy differs from the live map"
    page.evaluate("() => GCWall.map.map.triggerRepaint()")
    page.wait_for_function("() => !!GCWall.map.still", timeout=LIVE_MS)
    # a person drags the map: it moves (live while moving), and stands still again from a new copy
    before = page.evaluate("() => GCWall.map.map.getCenter().toArray()")
    box = page.evaluate("() => { const r = GCWall.map.map.getCanvas().getBoundingClientRect(); "
                        "return [r.left + r.width / 2, r.top + r.height / 2]; }")
    page.mouse.move(*box)
    page.mouse.down()
    page.mouse.move(box[0] + 150, box[1] + 80, steps=8)
    assert page.evaluate("() => GCWall.map.still === null")
    page.mouse.up()
    page.wait_for_function("() => !!GCWall.map.still", timeout=LIVE_MS)
    assert page.evaluate("() => GCWall.map.map.getCenter().toArray()") != before
    moved = map_shot(page)
    assert differing_pixels(still, moved) > 1000, "the copy did not follow the drag"
    page.evaluate("() => GCWall.map.thaw()")
    page.wait_for_function("() => getComputedStyle(GCWall.map.map.getCanvas()).opacity === '1'")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert differing_pixels(moved, map_shot(page)) < 50, "after the drag the copy differs from the live map"
    watch.assert_clean()


def test_new_and_changed_cases_repaint_only_their_boxes_and_look_as_a_full_repaint(pages, wall_server):
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    page.wait_for_function("() => GCWall.map.marks.events.placed.length > 0 || GCWall.cases.size === 0")
    before = page.evaluate("() => ({patches: GCWall.map.patches || 0, full: GCWall.map.fullPaints})")
    _, _, lat, lon = w["grids"][5]
    # three cases on top of each other (a few metres apart), each drawn into its own box over the others
    codes = []
    for i in range(3):
        c = post_case(wall_server, w["category"], lat + i * 0.00003, lon + i * 0.00003, f"wall-patch-{i}")
        page.wait_for_function("code => GCWall.map.loaded('cases').some(f => f.code === code)", arg=c["code"],
                               timeout=LIVE_MS)
        codes.append(c)
    # the middle one changes (closed: grey and smaller, and now drawn on top) and an alert lands by the first
    page.evaluate("""([c, lat, lon]) => { const now = new Date().toISOString();
        GCWall.onEvents([{seq: 2e9, type: 'case', at: now, payload: {action: 'approve', case: Object.assign({}, c,
                          {state: 'closed'})}},
                         {seq: 2e9 + 1, type: 'alert', at: now, payload: {action: 'created', alert: {id: 2e9,
                          title: 'patch', severity: 'minor', state: 'new', channel: 'actual', lat: lat, lon: lon,
                          created_at: now}}}]); }""", [codes[1], lat - 0.00005, lon - 0.00005])
    page.wait_for_function("() => GCWall.map.loaded('alerts').some(a => a.id === 2e9) && !GCWall.drawing")
    after = page.evaluate("() => ({patches: GCWall.map.patches || 0, full: GCWall.map.fullPaints})")
    assert after["patches"] >= before["patches"] + 4, (before, after)
    assert after["full"] == before["full"], "a new case repainted the whole canvas"
    closed = page.evaluate("id => GCWall.map.loaded('cases').find(f => f.id === id)", codes[1]["id"])
    assert closed["c"] == "#5b6b7c"
    # what the patches left on the canvas is what painting everything again gives (Skia antialiases an edge a shade
    # differently when a clip is set: a channel may differ by a few levels, never by a marker's colour)
    diff = page.evaluate("""() => { const m = GCWall.map, c = m.marks.events.el, ctx = m.marks.events.ctx;
        const a = ctx.getImageData(0, 0, c.width, c.height).data;
        m.paint('events');
        const b = ctx.getImageData(0, 0, c.width, c.height).data;
        let worst = 0, off = 0, painted = 0;
        for (let i = 0; i < a.length; i += 4) {  // compared premultiplied: a faint pixel's own colour means little
          if (b[i + 3] === 255) painted++;
          for (let k = 0; k < 4; k++) {
            const d = Math.abs((k < 3 ? a[i + k] * a[i + 3] - b[i + k] * b[i + 3] : (a[i + 3] - b[i + 3]) * 255) / 255);
            worst = Math.max(worst, d); if (d > 8) off++; } }
        return {worst, off, painted}; }""")
    assert diff["painted"] > 200 and diff["off"] == 0, diff
    watch.assert_clean()


def test_4k_kiosk_english_scales_canvas_and_keeps_map_crisp(pages, wall_server):
    page, watch = open_wall(pages, wall_server, "?kiosk=1&lang=en", width=3840, height=2160, timeout_ms=60000)
    page.wait_for_function("() => Math.abs(document.getElementById('wall-map')._fullLayout.map.zoom"
                           " - GCWall.cfg.base_zoom - 1) < 0.02", timeout=60000)
    geo = page.evaluate("""() => ({stage: getComputedStyle(document.getElementById('wall-stage')).transform,
        map: document.querySelector('.wall-map-layer').getBoundingClientRect().toJSON(),
        canvas: GCWall.map.map.getCanvas().getBoundingClientRect().toJSON()})""")
    assert geo["stage"].startswith("matrix(2, 0, 0, 2")
    assert geo["map"]["width"] == pytest.approx(936 * 2, abs=2) and geo["map"]["height"] == pytest.approx(964 * 2, abs=2)
    assert geo["canvas"]["width"] == pytest.approx(936 * 2, abs=2), "the map renders at real pixels, not upscaled"
    assert "Command Center" in page.inner_text(".wall-header h1")
    assert "Reported today" in page.inner_text(".wall-panel-kpi")
    for sel in (".wall-lang", "#wall-measure", "#wall-sound"):
        assert not page.is_visible(sel), f"kiosk shows {sel}"
    watch.assert_clean()


def test_reported_case_reaches_ticker_map_and_counters(pages, wall_server):
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    before = {k: kpi(page, k) for k in ("reported", "escalated")}
    gid, _, lat, lon = w["grids"][7]
    text = f"wall-e2e-{uuid.uuid4().hex[:8]}"
    case = post_case(wall_server, w["category"], lat, lon, text)
    page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=text,
                           timeout=LIVE_MS)
    page.wait_for_function("code => GCWall.map.loaded('cases').some(f => f.code === code)", arg=case["code"],
                           timeout=LIVE_MS)
    # the counters follow one frame after the ticker line and the marker
    page.wait_for_function("([r, e]) => { const n = k => Number(document.getElementById('wall-kpi-' + k)"
                           ".textContent.replace(/,/g, '')); return n('reported') === r && n('escalated') === e; }",
                           arg=[before["reported"] + 1, before["escalated"] + 1], timeout=2000)
    page.wait_for_function("gid => GCWall.map.shadeOf(gid).v >= 1", arg=gid, timeout=LIVE_MS)
    # the grid is shaded by its open case: the pixel under the case on the shading canvas has that colour
    px = page.evaluate("""([gid, lon, lat]) => { const m = GCWall.map, xy = m.map.project([lon, lat]),
        d = window.devicePixelRatio || 1, s = m.shadeOf(gid);
        return {rgba: Array.from(m.shade.getContext('2d').getImageData(Math.round(xy.x * d), Math.round(xy.y * d), 1, 1).data),
                want: s.color.match(/\\d+/g).map(Number), zero: GCWallMap.shadeColor(0, 3).match(/\\d+/g).map(Number),
                bg: m.shadeBg.match(/\\d+/g).map(Number), alpha: s.alpha}; }""", [gid, lon, lat])
    # the shading canvas is opaque: the grid's colour at its alpha over the map's background
    seen = [c * px["alpha"] + b * (1 - px["alpha"]) for c, b in zip(px["want"], px["bg"])]
    assert px["rgba"][3] == 255 and px["rgba"][:3] == pytest.approx(seen, abs=3) and px["want"] != px["zero"], px
    assert ticker_count(page, text) == 1
    # pointing at the marker shows the case's details
    x, y = page.evaluate("""code => { const m = GCWall.map, c = m.map.getCanvas(), r = c.getBoundingClientRect();
        const p = m.placed.find(p => p[3] === 'cases' && p[4].code === code), k = r.width / c.clientWidth;
        return [r.left + p[0] * k, r.top + p[1] * k]; }""", case["code"])
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=3)
    page.wait_for_selector(".wall-tip:not([hidden])", timeout=5000)
    tip = page.inner_text(".wall-tip")
    assert case["code"] in tip and text in tip, tip
    # the debounced refetch of /api/v1/wall/stats agrees with the clientside count
    page.wait_for_function("n => GCWall.stats.counters.reported === n", arg=before["reported"] + 1, timeout=20000)
    assert kpi(page, "reported") == before["reported"] + 1
    # the category chart (SVG drawn by the page) shows the case's category with the server's count, its axis
    # ending on the stepped top; the hourly chart's today line has a point per hour so far
    stats = requests.get(wall_server.url + "/api/v1/wall/stats", timeout=10).json()
    major = next(c for c in stats["by_category"] if c["name"] == case["major"])
    page.wait_for_function("""([name, n]) => Array.from(document.querySelectorAll('#wall-category .wall-bar')).some(
        g => g.querySelector('.wall-svg-label').textContent === name && g.querySelector('.wall-svg-value').textContent === String(n))""",
                           arg=[major["name"], major["count"]], timeout=20000)
    ticks = page.eval_on_selector_all("#wall-category .wall-svg-tick", "ns => ns.map(n => Number(n.textContent))")
    assert ticks[-1] == axis_top(max(c["count"] for c in stats["by_category"][:8])), ticks
    # … up to the current hour: the hours to come are not drawn as zeros (#27 item 7)
    hour = int(stats["time"][11:13])
    assert page.eval_on_selector_all("#wall-hourly .wall-dot-today", "ns => ns.length") in (hour + 1, (hour + 1) % 24 + 1)
    watch.assert_clean()


def test_an_overtaken_batch_is_awaited_and_a_lost_one_fetched(pages, wall_server):
    """With several server processes a later event can be pushed before an earlier one (each process sends its own
    events at once, the others' through the message queue). A live wall holds the later batch until the earlier one
    arrives and applies both in seq order without asking the server; one that never arrives is fetched after a wait."""
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    fetches = []
    page.on("request", lambda r: fetches.append(r.url) if "/api/v1/events" in r.url else None)
    # the socket's batches go to the test, which hands them to GCLive in the order it chooses
    page.evaluate("""() => { const s = GCLive.socket(); window.__give = s.listeners('events')[0]; s.off('events');
        window.__held = []; s.on('events', m => __held.push(m));
        window.__order = []; GCLive.on('events', evs => evs.forEach(e => __order.push(e.seq))); }""")

    def report_two(tag: str, first_grid: int) -> list[str]:
        texts = [f"{tag}-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
        for i, t in enumerate(texts):
            _, _, lat, lon = w["grids"][first_grid + i]
            post_case(wall_server, w["category"], lat, lon, t)
        page.wait_for_function("ts => ts.every(t => __held.some(m => JSON.stringify(m).includes(t)))", arg=texts,
                               timeout=LIVE_MS)
        return texts

    texts = report_two("overtaken", 20)
    seen = page.evaluate("""() => { const held = __held.splice(0).sort((a, b) => a.events[0].seq - b.events[0].seq);
        const before = GCLive.lastSeq(), last = held[held.length - 1];
        __give(last);  // the latest first: held, not applied, not fetched
        const held_back = GCLive.lastSeq() === before;
        held.slice(0, -1).reverse().forEach(m => __give(m));  // then the earlier ones, last the earliest
        return {held_back, before, after: GCLive.lastSeq(), want: last.events[last.events.length - 1].seq}; }""")
    assert seen["held_back"] and seen["after"] == seen["want"], seen
    for t in texts:
        page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=t,
                               timeout=LIVE_MS)
        assert ticker_count(page, t) == 1
    order = page.evaluate("() => __order")
    assert order == sorted(order) and len(order) == len(set(order)) and order[-1] == seen["want"], order
    page.wait_for_timeout(400)  # longer than GCLive's wait: a fetch started by the overtaking would show by now
    assert fetches == [], fetches

    since = page.evaluate("() => performance.now()")
    texts = report_two("lost", 22)
    given_at = page.evaluate("""() => { const held = __held.splice(0).sort((a, b) => a.events[0].seq - b.events[0].seq);
        held.slice(1).forEach(m => __give(m));  // the earliest batch is lost on the way
        return performance.now(); }""")
    for t in texts:  # the lost one is fetched, the held ones applied after it, each once
        page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=t,
                               timeout=LIVE_MS)
        assert ticker_count(page, t) == 1
    assert len(fetches) == 1, fetches
    waited = page.evaluate("([since, at]) => performance.getEntriesByType('resource').filter(e => e.startTime > since "
                           "&& e.name.includes('/api/v1/events')).map(e => e.startTime - at)", [since, given_at])
    assert len(waited) == 1 and waited[0] >= 240, waited  # it gave the lost batch its time to come first
    order = page.evaluate("() => __order")
    assert order == sorted(order) and len(order) == len(set(order)), order
    watch.assert_clean()


def test_worker_moves_and_shading_wait_for_the_heartbeat_a_chosen_measure_does_not(pages, wall_server):
    """Worker markers and the grid shading repaint the whole map: they go in the heartbeat's second frame
    (afterBeat), never in frames of their own after a case; a person's change of measure shows at once."""
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    page.evaluate("""() => { const m = GCWall.map; let inBeat = false; window.__paints = [];
        const ab = GCWall.afterBeat;
        GCWall.afterBeat = function () { inBeat = true; try { return ab.apply(this, arguments); } finally { inBeat = false; } };
        const pc = m.paintCanvas;
        m.paintCanvas = function (name) { __paints.push([name, inBeat]); return pc.apply(this, arguments); };
        const ps = m.paintShade;
        m.paintShade = function () { __paints.push(['shade', inBeat]); return ps.apply(this, arguments); }; }""")
    page.wait_for_timeout(1200)
    page.evaluate("() => { window.__paints = []; }")
    _, _, lat, lon = w["grids"][11]
    # a coalesced positions frame as the server pushes it (the demo's workers are off duty without the simulator)
    page.evaluate("""([lat, lon]) => { const id = GCWall.workers.keys().next().value;
        GCWall.onEvents([{seq: GCLive.lastSeq(), type: 'positions', at: new Date().toISOString(), payload: {
          fields: ['worker_id', 'lat', 'lon', 'state', 't', 'grid_id'],
          workers: [[id, lat, lon, 'patrolling', new Date().toISOString(), null]]}}]); }""", [lat, lon])
    codes = [post_case(wall_server, w["category"], g[2], g[3], f"beat-{uuid.uuid4().hex[:6]}")["code"]
             for g in w["grids"][12:15]]
    page.wait_for_function("codes => codes.every(c => GCWall.map.loaded('cases').some(f => f.code === c))", arg=codes,
                           timeout=LIVE_MS)
    page.wait_for_function("([lat, lon]) => GCWall.map.loaded('workers').some(p => Math.abs(p.d[1] - lat) < 1e-7 && "
                           "Math.abs(p.d[2] - lon) < 1e-7)", arg=[lat, lon], timeout=LIVE_MS)  # the marker moved
    page.wait_for_function("gid => GCWall.map.shadeOf(gid).v >= 1", arg=w["grids"][12][0], timeout=LIVE_MS)
    paints = page.evaluate("() => __paints")
    assert any(n == "workers" for n, _ in paints) and any(n == "shade" for n, _ in paints), paints
    assert all(in_beat for n, in_beat in paints if n in ("workers", "shade")), paints
    page.evaluate("() => { window.__paints = []; }")
    page.select_option("#wall-measure", "today")
    page.wait_for_function("() => __paints.some(p => p[0] === 'shade' && !p[1]) && GCWall.map.shadedFor === 'today'",
                           timeout=900)  # under a heartbeat: not waiting for one
    watch.assert_clean()


def test_a_case_changes_ticker_and_marker_in_one_frame_and_the_counters_in_the_next(pages, wall_server):
    """Counters (top left), ticker (bottom right) and the marker (centre) changed in one frame make that frame's
    damage the whole screen; the counters follow one frame later, and the ticker line and marker stay together."""
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    # every rendered frame numbered: a change made before frame n's animation callbacks is on screen in frame n
    page.evaluate("""() => { window.__frame = 0; window.__at = {};
        const tick = () => { __frame++; requestAnimationFrame(tick); }; requestAnimationFrame(tick);
        const note = k => { if (!(k in __at)) __at[k] = __frame; };
        new MutationObserver(() => note('ticker')).observe(document.getElementById('wall-ticker'), {childList: true});
        new MutationObserver(() => note('counters')).observe(document.getElementById('wall-kpi-reported'),
                                                             {childList: true, characterData: true, subtree: true});
        const pc = GCWall.map.patchCanvas;
        GCWall.map.patchCanvas = function () { note('marker'); return pc.apply(this, arguments); }; }""")
    before = kpi(page, "reported")
    _, _, lat, lon = w["grids"][9]
    case = post_case(wall_server, w["category"], lat, lon, f"frames-{uuid.uuid4().hex[:6]}")
    page.wait_for_function("code => GCWall.map.loaded('cases').some(f => f.code === code)", arg=case["code"],
                           timeout=LIVE_MS)
    page.wait_for_function("n => Number(document.getElementById('wall-kpi-reported').textContent) === n",
                           arg=before + 1, timeout=2000)
    at = page.evaluate("() => __at")
    assert at["ticker"] == at["marker"], at
    assert at["counters"] > at["ticker"], at
    watch.assert_clean()


def test_a_hidden_wall_paints_nothing_piles_up_nothing_and_catches_up_when_shown(pages, wall_server):
    """A hidden tab (minimised, behind another) runs no animation frames: beats and cases must not pile up a
    callback each for days. Shown again, the wall paints every case once and the counters count them."""
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    before = kpi(page, "reported")
    page.evaluate("""() => { window.__held = []; window.__raf = window.requestAnimationFrame; window.__patches = 0;
        window.requestAnimationFrame = cb => { __held.push(cb); return __held.length; };
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        const pc = GCWall.map.patchCanvas;
        GCWall.map.patchCanvas = function () { __patches++; return pc.apply(this, arguments); }; }""")
    texts = [f"hidden-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    codes = [post_case(wall_server, w["category"], g[2], g[3], t)["code"] for g, t in zip(w["grids"][20:23], texts)]
    page.wait_for_function("ts => ts.every(t => document.getElementById('wall-ticker').textContent.includes(t))",
                           arg=texts, timeout=LIVE_MS)  # the ticker is plain DOM: it is current when shown
    page.wait_for_timeout(2500)  # two or three heartbeats without a frame
    state = page.evaluate("() => ({held: __held.length, patches: __patches})")
    assert state == {"held": 2, "patches": 0}, state  # the heartbeat's second frame and the counters, once each
    assert kpi(page, "reported") == before
    page.evaluate("""() => { delete document.hidden; window.requestAnimationFrame = __raf;
        document.dispatchEvent(new Event('visibilitychange')); __held.splice(0).forEach(cb => cb(performance.now())); }""")
    page.wait_for_function("codes => codes.every(c => GCWall.map.loaded('cases').some(f => f.code === c))", arg=codes,
                           timeout=3000)
    page.wait_for_function("n => Number(document.getElementById('wall-kpi-reported').textContent) === n",
                           arg=before + 3, timeout=3000)
    watch.assert_clean()


def test_sos_alert_shows_in_panel_with_pulsing_ring(pages, wall_server):
    w = world(wall_server.db_url)
    page, watch = open_wall(pages, wall_server)
    _, _, lat, lon = w["grids"][3]
    # the wall's sound is on (headless Chromium lets it start without a click) and idle: suspended between beeps
    page.wait_for_function("() => GCWall.soundOn && GCWall.audio.state === 'suspended'", timeout=LIVE_MS)
    page.evaluate("""() => { const ctx = GCWall.audio, heard = window.heard = {states: [], tones: 0};
        ctx.addEventListener('statechange', () => heard.states.push(ctx.state));
        const make = ctx.createOscillator.bind(ctx); ctx.createOscillator = () => { heard.tones++; return make(); }; }""")
    r = requests.get(wall_server.url + "/osmand", params={"id": w["device"], "lat": lat, "lon": lon,
                                                          "timestamp": int(time.time()), "alarm": "sos"}, timeout=10)
    assert r.status_code == 200, r.text
    page.wait_for_selector("#wall-alerts .wall-alert", timeout=LIVE_MS)
    assert "SOS" in page.inner_text("#wall-alerts")
    # it beeped (three tones, the context running for them) and the context went quiet again
    page.wait_for_function("() => heard.tones === 3 && GCWall.audio.state === 'suspended'", timeout=LIVE_MS)
    assert page.evaluate("() => heard.states")[:1] == ["running"], page.evaluate("() => heard")
    page.wait_for_selector("#wall-overlay .wall-ring-new", timeout=LIVE_MS)
    page.wait_for_function("() => GCWall.map.loaded('alerts').length >= 1", timeout=LIVE_MS)
    # the ring pulses with the heartbeat, in its second frame (with the map's worker repaint), not in the clock's
    seen = page.evaluate("""() => new Promise(done => { let frame = 0; const beat = [], pulse = [], sizes = new Set();
        const tick = () => { frame++; requestAnimationFrame(tick); }; requestAnimationFrame(tick);
        const html = document.documentElement, had = {b: html.classList.contains('wall-beat-on'),
                                                      p: html.classList.contains('wall-pulse-on')};
        new MutationObserver(() => {
          const b = html.classList.contains('wall-beat-on'), p = html.classList.contains('wall-pulse-on');
          if (b !== had.b) beat.push(frame); if (p !== had.p) pulse.push(frame); had.b = b; had.p = p;
          sizes.add(getComputedStyle(document.querySelector('#wall-overlay .wall-ring-new')).transform);
        }).observe(html, {attributes: true, attributeFilter: ['class']});
        setTimeout(() => done({beat, pulse, sizes: sizes.size}), 2600); })""")
    assert seen["sizes"] >= 2, seen  # it pulses
    assert len(seen["beat"]) >= 2 and len(seen["pulse"]) >= 2, seen
    assert not set(seen["beat"]) & set(seen["pulse"]), seen  # never in the clock's frame
    # an unattended wall piling up alerts: each keeps its marker, rings go round the newest 20, and what is kept
    # of an alert is what the wall shows (not its CAP area or data)
    base = page.evaluate("""([lat, lon]) => { const base = GCWall.alerts.size, now = new Date().toISOString(), evs = [];
        for (let i = 0; i < 25; i++) evs.push({seq: 1e9 + i, type: 'alert', at: now, payload: {action: 'created',
          alert: {id: 1e9 + i, title: 'pile ' + i, severity: 'minor', state: 'new', channel: 'actual', lat: lat, lon: lon,
                  created_at: now, area: {polygon: '1 2 3'}, data: {raw: 'x'.repeat(1000)}}}});
        GCWall.onEvents(evs); return base; }""", [lat, lon])
    page.wait_for_function("n => GCWall.map.loaded('alerts').length === n", arg=base + 25, timeout=LIVE_MS)
    assert page.locator("#wall-overlay .wall-ring").count() == 20
    kept = page.evaluate("() => GCWall.alerts.get(1e9 + 24)")
    assert kept["title"] == "pile 24" and "area" not in kept and "data" not in kept
    watch.assert_clean()


def test_restart_shows_events_raised_while_down_once_each(pages, tmp_path):
    from dashboard.db import Database
    from dashboard.services.cases import CaseReport, report_case
    from dashboard.services.grids import load_locator

    first = LiveServer(tmp_path, "--no-sim").start(timeout=START_S)
    second = None
    try:
        w = world(first.db_url)
        page, watch = open_wall(pages, first)
        first.stop(kill=True)
        page.wait_for_selector(".wall-status-disconnected, .wall-status-reconnecting", timeout=10000)
        texts = [f"while-down-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
        db = Database(first.db_url)
        try:
            with db.write() as s:
                locator = load_locator(s)
                for i, text in enumerate(texts):
                    _, _, lat, lon = w["grids"][10 + i]
                    report_case(s, CaseReport(category_code=w["category"], description=text, lat=lat, lon=lon,
                                              source="operator"), locator=locator)
        finally:
            db.dispose()
        second = LiveServer(tmp_path, "--no-sim", db_url=first.db_url)
        second.port, second.url = first.port, first.url  # same address: the page reconnects by itself
        second.start(timeout=START_S)
        page.wait_for_selector(".wall-status-connected", timeout=20000)
        for text in texts:
            page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=text,
                                   timeout=15000)
        after = f"after-restart-{uuid.uuid4().hex[:6]}"
        _, _, lat, lon = w["grids"][20]
        post_case(second, w["category"], lat, lon, after)
        page.wait_for_function("t => document.getElementById('wall-ticker').textContent.includes(t)", arg=after,
                               timeout=LIVE_MS)
        time.sleep(1.0)  # a duplicate would arrive right behind
        for text in texts + [after]:
            assert ticker_count(page, text) == 1, text
        seqs = page.evaluate("() => Array.from(document.querySelectorAll('#wall-ticker li[data-seq]'))"
                             ".map(li => li.getAttribute('data-seq'))")
        assert len(seqs) == len(set(seqs)) >= 4
        assert [int(s) for s in seqs] == sorted((int(s) for s in seqs), reverse=True), "newest first, in seq order"
        # a lost connection is not an error worth a red console line; anything else is
        watch.errors = [e for e in watch.errors if not re.search(r"ERR_CONNECTION_REFUSED|WebSocket|socket", e)]
        watch.assert_clean()
    finally:
        if second is not None:
            second.stop()
        first.stop()
