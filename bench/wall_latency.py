"""Wall latency: report POST → ticker text and → map marker, push (/wall) vs dcc.Interval(1 s) polling (/wall-poll).

One run, one server (``python run.py`` with the simulator at --sim-speed and --sim-hour 15 so 476
of the 490 workers are out, each sending a fix every ~5 s, and cases flow, at any time of day), ``--pages`` /wall pages open as load plus one /wall-poll page.
Every ``--every`` seconds a case is POSTed to /api/v1/cases with a unique token; the time the
token appears in each measured page's DOM (MutationObserver) and on its map (the wall's own
mark: the frame after the marker canvas was painted; for the poll page, the frame after
plotly_react/afterplot with the token in the case trace) is taken against the POST start
(same machine, same clock). On the measured wall the ticker time is also split at the moment the token's
socket message reached the page: POST → message (the server, the network, and the page's wait to run its socket
handler) and message → DOM (the page's own work).
By default the server, the simulator and every page share every CPU, competing: on a 2-CPU box ten Chromium pages
keep the server's threads waiting for a CPU (a plain 2 ms sleep then wakes up to 170 ms late). ``--own-pc`` puts
the measured wall (and the polling page) in a browser of its own, alone on the last CPU, as a control room's wall
runs on its own PC; the server, the simulator and the other walls share the rest, so the server still carries
every wall's load.
Also: cold load to first live frame per page, bytes per update (CDP), and the JS heap of the
first wall page after warm-up vs at the end (after forced GC).

    python bench/wall_latency.py                      # 5 minutes (default), 10 wall pages
    python bench/wall_latency.py --duration 1800      # the 30-minute accelerated run
    python bench/wall_latency.py --browser-nice 10    # walls behind the server for the CPU
    python bench/wall_latency.py --own-pc             # the measured wall alone on a CPU, as on the control room's PC
    python bench/wall_latency.py --timeline           # per probe: the server's push (a Python socket) vs the page's wait;
                                                      # and per minute, each process group's CPU and the wall's state
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.utils.page_client import demo_http  # noqa: E402

log = logging.getLogger("bench.wall")

# records when a token first shows in the page's DOM, and (poll page) on the map after a plot
OBSERVER = """
(() => {
  window.__seen = {}; window.__mapSeen = {}; window.__wsSeen = {}; window.__wsLog = [];
  const re = /B-[0-9a-f]{8}/g;
  const scan = (text, into) => { const m = text && text.match(re); if (m) { const now = Date.now();
    m.forEach(t => { if (!(t in into)) into[t] = now; }); } };
  // when a token's socket message reached the page (its first listener, before Socket.IO's): splits POST → ticker
  // into the server's and the network's part (POST → message) and the page's (message → DOM)
  const WS = window.WebSocket;
  window.WebSocket = function (...args) { const ws = new WS(...args);
    ws.addEventListener('message', e => { if (typeof e.data === 'string') { scan(e.data, window.__wsSeen);
      if (window.__gcTimeline && window.__wsLog.length < 20000) window.__wsLog.push([Date.now(), e.data.length]); } });
    return ws; };
  window.WebSocket.prototype = WS.prototype; Object.assign(window.WebSocket, WS);
  new MutationObserver(muts => { for (const mu of muts) {
      for (const n of mu.addedNodes) scan(n.textContent, window.__seen);
      if (mu.type === 'characterData') scan(mu.target.textContent, window.__seen); } })
    .observe(document, {subtree: true, childList: true, characterData: true});
  if (location.pathname !== '/wall-poll') return;  // a wall page has no plotly map to hook: no timer on it
  const hook = setInterval(() => { const gd = document.querySelector('#wallpoll-map .js-plotly-plot');
    if (!gd || !gd.on) return; clearInterval(hook);
    // a full plot emits plotly_afterplot; dcc.Graph's updates go through Plotly.react, which emits plotly_react
    const seen = () => requestAnimationFrame(() => { const now = Date.now(); (gd.data || []).forEach(tr =>
      (tr.text || []).forEach(t => { const m = typeof t === 'string' && t.match(re);
        if (m && !(m[0] in window.__mapSeen)) window.__mapSeen[m[0]] = now; })); });
    gd.on('plotly_afterplot', seen); gd.on('plotly_react', seen);
  }, 50);
})();
"""


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values) if values else None}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{os.cpu_count()} CPU ({cpu}), {platform.system()} {platform.release()}"


def stamped_run(run, args) -> dict:
    """``run(args)`` with logging on, its figures stamped with the machine and the time, printed as JSON and
    written to ``args.json`` when given."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    res = run(args)
    res["machine"] = machine()
    res["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(res, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    return res


class Meter:
    """Bytes a page receives after load: HTTP bodies and WebSocket frames, counted by CDP."""

    def __init__(self, ctx, page) -> None:
        self.http = self.ws = self.ws_frames = self.http_updates = 0
        self.cdp = ctx.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.on("Network.loadingFinished", self._http)
        self.cdp.on("Network.webSocketFrameReceived", self._frame)
        self.urls: dict[str, str] = {}
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))

    def _http(self, e) -> None:
        self.http += e.get("encodedDataLength", 0)
        if "_dash-update-component" in self.urls.get(e["requestId"], ""):
            self.http_updates += 1

    def _frame(self, e) -> None:
        self.ws += len(e["response"].get("payloadData", "").encode())
        self.ws_frames += 1

    def reset(self) -> None:
        self.http = self.ws = self.ws_frames = self.http_updates = 0


def cpu_ticks(server_pid: int) -> dict[str, int]:
    """CPU ticks (user+system) so far by process group — the server, Chromium's renderers, GPU, the rest, and the
    bench itself (this script and the Playwright driver) — counting only this run's processes (this one and its
    descendants), not whatever else the machine runs."""
    procs: dict[int, tuple[int, int, str]] = {}  # pid → (parent, ticks, cmdline)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        procs[int(d.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmd)  # ppid, utime + stime
    me = os.getpid()

    def ours(pid: int) -> bool:
        for _ in range(64):
            if pid == me:
                return True
            if pid not in procs or pid <= 1:
                return False
            pid = procs[pid][0]
        return False

    out: dict[str, int] = {}
    for pid, (_, ticks, cmd) in procs.items():
        if not ours(pid):
            continue
        if pid == server_pid:
            group = "server"
        elif "chromium" not in cmd and "chrome" not in cmd:
            group = "bench"  # this script, the Playwright driver: they share the CPUs with what is measured
        elif "--type=renderer" in cmd:
            group = "chromium_renderers"
        elif "--type=gpu-process" in cmd:
            group = "chromium_gpu"
        else:
            group = "chromium_other"
        out[group] = out.get(group, 0) + ticks
    return out


def cpu_percent(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """Percent of one core per group between two ``cpu_ticks`` readings (200 % = both cores of this box)."""
    hz = os.sysconf("SC_CLK_TCK")
    return {k: round((after.get(k, 0) - before.get(k, 0)) / hz / seconds * 100, 1) for k in sorted(after)}


def heap_mb(ctx, page) -> float:
    cdp = ctx.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    used = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6
    cdp.detach()
    return used


def run(args) -> dict:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="wallbench-"))
    hour = [] if args.sim_hour < 0 else ["--sim-hour", str(args.sim_hour)]
    every_cpu = os.sched_getaffinity(0)
    own_cpu, rest = own_pc_cpus(every_cpu) if args.own_pc else (set(), set(every_cpu))
    os.sched_setaffinity(0, rest)  # the server (a child) keeps the CPUs this thread has when it starts
    try:
        srv = LiveServer(tmp, "--sim-speed", str(args.sim_speed), *hour, *args.server_arg).start(timeout=90)
    finally:
        os.sched_setaffinity(0, every_cpu)
    log.info("server %s (sim speed %s, hour %s), db %s", srv.url, args.sim_speed, args.sim_hour, srv.db_url)
    out: dict = {"duration_s": args.duration, "pages": args.pages, "sim_speed": args.sim_speed, "sim_hour": args.sim_hour,
                 "browser_nice": args.browser_nice, "own_pc_cpu": sorted(own_cpu)}
    try:
        grids = requests.get(srv.url + "/api/v1/grids", timeout=10).json()["features"]
        cat_code = args.category or _category(srv.db_url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_wrapped(CHROMIUM, args.browser_nice, rest if own_cpu else None,
                                                                 tmp / "load.sh"), args=CHROMIUM_ARGS)
            # --own-pc: the measured wall (and later the polling page) in a browser of its own on a CPU of its own
            mine = p.chromium.launch(executable_path=_wrapped(CHROMIUM, args.browser_nice, own_cpu, tmp / "own.sh"),
                                     args=CHROMIUM_ARGS) if own_cpu else browser
            walls, cold, steps = [], [], []
            # one after another: each page's own clock measures its cold load. With --own-pc the other walls open
            # first, then the measured one on its own CPU, cold-loaded OWN_PC_LOADS times under their full load
            order = [browser] * (args.pages - 1) + [mine] * OWN_PC_LOADS if own_cpu else [browser] * args.pages
            for i, b in enumerate(order):
                ctx = b.new_context(viewport={"width": 1920, "height": 1080})
                page = ctx.new_page()
                if args.timeline and not walls:
                    page.add_init_script("window.__gcTimeline = true")
                page.add_init_script(OBSERVER)
                page.goto(srv.url + "/wall?kiosk=1", wait_until="commit")
                page.wait_for_function("() => window.GCWall && GCWall.firstFrameAt", timeout=300000)
                cold.append(page.evaluate("() => GCWall.firstFrameAt"))
                steps.append(page.evaluate("""() => Object.assign({}, GCWall.timing, (() => {
                    const n = performance.getEntriesByType('navigation')[0];
                    return {html: Math.round(n.responseEnd), dom_loaded: Math.round(n.domContentLoadedEventEnd)}; })())"""))
                log.info("wall page %d%s: first live frame after %.0f ms", i + 1,
                         " (own PC)" if b is not browser else "", cold[-1])
                if own_cpu and b is mine and i < len(order) - 1:
                    ctx.close()  # a cold load to repeat, not a page to keep
                    continue
                walls.append((ctx, page))
            if own_cpu:  # the measured wall first, as without --own-pc
                walls.insert(0, walls.pop())
            if len(walls) != args.pages:  # the load is the walls kept open (session 11's --own-pc closed nine)
                raise SystemExit(f"{len(walls)} wall pages open, --pages asked for {args.pages}")
            out["walls_open"] = len(walls)
            listener = _Listener(srv.url) if args.timeline else None
            m_wall = Meter(*walls[0])
            walls[0][1].wait_for_timeout(args.warmup * 1000)  # Playwright's sync API only delivers events while it waits
            heap0 = heap_mb(*walls[0])
            m_wall.reset()
            # phase A: the push wall under district load; phase B: the polling page joins, same load
            cpu0, t_cpu0 = cpu_ticks(srv.proc.pid), time.time()
            wall_map: dict = {}  # read as the run goes: the page keeps only its newest marks (a memory cap)
            sampler = _Sampler(srv.proc.pid, walls[0][1], every=max(10.0, min(60.0, args.duration / 30))) \
                if args.timeline else None
            timings: list[dict[str, float]] = []
            probes_a = probe(srv, grids, cat_code, args.duration / 2, args.every, walls[0][1], wall_map, sampler,
                             timings)
            cpu_a = cpu_percent(cpu0, cpu_ticks(srv.proc.pid), time.time() - t_cpu0)
            walls[0][1].wait_for_timeout(5000)
            wall_secs = args.duration / 2 + 5
            wall_bytes = (m_wall.ws, m_wall.ws_frames, m_wall.http)
            ctx_p = mine.new_context(viewport={"width": 1920, "height": 1080})
            poll = ctx_p.new_page()
            poll.add_init_script(OBSERVER)
            poll.goto(srv.url + "/wall-poll")
            poll.wait_for_selector("#wallpoll-map .js-plotly-plot", timeout=180000)
            m_poll = Meter(ctx_p, poll)
            poll.wait_for_timeout(10000)
            m_poll.reset()
            probes_b = probe(srv, grids, cat_code, args.duration / 2, args.every, poll)
            poll.wait_for_timeout(5000)
            poll_secs = args.duration / 2 + 5
            wall_seen = walls[0][1].evaluate("() => window.__seen")
            wall_ws = walls[0][1].evaluate("() => window.__wsSeen")
            collect_marks(walls[0][1], wall_map)
            poll_seen, poll_map = poll.evaluate("() => window.__seen"), poll.evaluate("() => window.__mapSeen")
            heap1 = heap_mb(*walls[0])
            lat = {"wall_ticker": [], "wall_map": [], "poll_ticker": [], "poll_map": []}
            missing = {k: 0 for k in lat}
            for key, src, probes, by_id in (("wall_ticker", wall_seen, probes_a, False), ("wall_map", wall_map, probes_a, True),
                                            ("poll_ticker", poll_seen, probes_b, False),
                                            ("poll_map", poll_map, probes_b, False)):
                for token, t0, cid, _ack in probes:
                    k = cid if by_id else token
                    if k in src:
                        lat[key].append(src[k] - t0)
                    else:
                        missing[key] += 1
            split = {"post_to_message": [], "message_to_dom": []}
            for token, t0, _cid, _ack in probes_a:
                if token in wall_ws and token in wall_seen:
                    split["post_to_message"].append(wall_ws[token] - t0)
                    split["message_to_dom"].append(wall_seen[token] - wall_ws[token])
            draw_ms = walls[0][1].evaluate("() => GCWall.map.drawMs")
            if listener is not None:  # per probe: when it was posted, and where its time went
                listener.close()
                ws_log = walls[0][1].evaluate("() => window.__wsLog")
                out["timeline"] = {"t0_ms": probes_a[0][1] if probes_a else None, "ws_log": ws_log, "probes": [
                    [token, t0, ack, listener.seen.get(token), wall_ws.get(token), wall_seen.get(token)]
                    for token, t0, _cid, ack in probes_a], "server_timing": timings, "samples": sampler.rows}
                rows = [r for r in out["timeline"]["probes"] if r[3] is not None and r[4] is not None]
                split["post_to_push"] = [r[3] - r[1] for r in rows]
                split["push_to_page_message"] = [r[4] - r[3] for r in rows]
            if own_cpu:
                out["cold_load_others_ms"] = summary(cold[:-OWN_PC_LOADS])
                cold, steps = cold[-OWN_PC_LOADS:], steps[-OWN_PC_LOADS:]
            out.update({
                "probes": {"push": len(probes_a), "poll": len(probes_b)}, "cold_load_ms": summary(cold),
                "cold_load_steps_ms": {k: pct([st[k] for st in steps if k in st], 50) for k in steps[0]},
                "post_ack_ms": summary([ack for *_, ack in probes_a]), "cpu_pct_push_phase": cpu_a,
                "post_server_timing_ms": {k: summary([t[k] for t in timings if k in t]) for k in ("app", "write-turn")},
                "wall_redraw_ms": summary(draw_ms),
                "latency_ms": {k: summary(v) for k, v in lat.items()}, "missing": missing,
                "wall_ticker_split_ms": {k: summary(v) for k, v in split.items()},
                "bytes": {"wall_ws_per_s": wall_bytes[0] / wall_secs, "wall_ws_frames": wall_bytes[1],
                          "wall_bytes_per_frame": wall_bytes[0] / max(wall_bytes[1], 1),
                          "wall_http_per_s": wall_bytes[2] / wall_secs,
                          "poll_http_per_s": m_poll.http / poll_secs, "poll_updates": m_poll.http_updates,
                          "poll_bytes_per_update": m_poll.http / max(m_poll.http_updates, 1)},
                "heap_mb": {"after_warmup": heap0, "end": heap1, "growth_pct": (heap1 - heap0) / heap0 * 100},
                "wall_state": walls[0][1].evaluate(WALL_STATE),
            })
            browser.close()
            if mine is not browser:
                mine.close()
    finally:
        srv.stop()
    return out


OWN_PC_LOADS = 5  # --own-pc: cold loads of the measured wall (the last one stays open and is measured)


def own_pc_cpus(cpus: set[int]) -> tuple[set[int], set[int]]:
    """(the measured pages' CPU, the rest): the last CPU for the measured wall alone, as on a control room's own
    PC; the server, the simulator and the other walls share the others."""
    if len(cpus) < 2:
        raise SystemExit(f"--own-pc needs at least 2 CPUs, this process may use {len(cpus)}")
    order = sorted(cpus)
    return {order[-1]}, set(order[:-1])


def _wrapped(executable: str, nice: int, cpus: set[int] | None, wrapper: Path) -> str:
    """The browser, started at a lower CPU priority when ``nice`` > 0 and on ``cpus`` only when given (a wrapper
    script; the browser's processes inherit both)."""
    if nice <= 0 and not cpus:
        return executable
    cmd = f'"{executable}" "$@"'
    if nice > 0:
        cmd = f"nice -n {int(nice)} {cmd}"
    if cpus:
        cmd = f"taskset -c {','.join(map(str, sorted(cpus)))} {cmd}"
    wrapper.write_text(f"#!/bin/sh\nexec {cmd}\n")
    wrapper.chmod(0o755)
    return str(wrapper)


class _Listener:
    """--timeline: a Python socket beside the walls, on the bench's own (mostly idle) process: when the server
    pushed each probe, to split POST → message into the server's part and the page's wait."""

    def __init__(self, url: str) -> None:
        from tests.utils.wall_client import WallClient

        self.seen: dict[str, float] = {}
        self.client = WallClient(url, on_batch=self._batch, keep_events=False).start()

    def _batch(self, batch: list[dict], received: float) -> None:
        now = received * 1000
        for m in batch:
            d = ((m.get("payload") or {}).get("case") or {}).get("description") or ""
            if d.startswith("B-"):
                self.seen.setdefault(d, now)

    def close(self) -> None:
        self.client.close()


def collect_marks(page, into: dict) -> None:
    """The wall's map marks (case id → when its marker was on screen), merged into ``into``."""
    for cid, _, at in page.evaluate("() => GCWall.marks.filter(m => m[1] === 'map')"):
        into.setdefault(cid, at)


WALL_STATE = ("() => ({cases: GCWall.cases.size, alerts: GCWall.alerts.size, workers: GCWall.workers.size, "
              "on_duty: GCWall.counters.on_duty, ticker: document.querySelectorAll('#wall-ticker li').length, "
              "marks: GCWall.marks.length, rings: document.querySelectorAll('#wall-overlay > *').length})")


class _Sampler:
    """--timeline: every ``every`` s during the push phase, the CPU each process group used since the last sample
    (% of one core) and what the measured wall holds — to see what changes when the tail sets in."""

    def __init__(self, server_pid: int, page, every: float = 60.0) -> None:
        self.server_pid, self.page, self.every = server_pid, page, every
        self.rows: list[dict] = []
        self._last = (time.time(), cpu_ticks(server_pid))

    def __call__(self) -> None:
        t0, before = self._last
        now = time.time()
        if now - t0 < self.every:
            return
        after = cpu_ticks(self.server_pid)
        self.rows.append({"t_ms": now * 1000, "cpu_pct": cpu_percent(before, after, now - t0),
                          "wall": self.page.evaluate(WALL_STATE)})
        self._last = (now, after)


def server_timing(header: str | None) -> dict[str, float]:
    """``Server-Timing: app;dur=4.1, write-turn;dur=0.0`` → {"app": 4.1, "write-turn": 0.0}."""
    out = {}
    for part in (header or "").split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            out[name] = float(rest[4:])
    return out


def probe(srv, grids: list, cat_code: str, seconds: float, every: float, page,
          marks: dict | None = None, sample=None, timings: list | None = None) -> list[tuple[str, float, int, float]]:
    """POST a report with a unique token every ``every`` s; returns (token, POST start ms, case id, ack ms).
    With ``marks``, the page's map marks are collected after each probe; ``sample()`` is called after each too;
    ``timings`` gets each answer's Server-Timing."""
    out: list[tuple[str, float, int, float]] = []
    t_end = time.time() + seconds
    while time.time() < t_end:
        token = f"B-{uuid.uuid4().hex[:8]}"
        lon, lat = _inside(grids[len(out) * 7 % len(grids)]["geometry"])
        t0 = time.time() * 1000
        body = {"category_code": cat_code, "description": token, "lat": lat, "lon": lon}
        r = demo_http(srv.url).post(srv.url + "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex},
                                    timeout=30)
        r.raise_for_status()
        out.append((token, t0, r.json()["id"], time.time() * 1000 - t0))
        if timings is not None:
            timings.append(server_timing(r.headers.get("Server-Timing")))
        page.wait_for_timeout(every * 1000)
        if marks is not None:
            collect_marks(page, marks)
        if sample is not None:
            sample()
    return out


def _category(db_url: str) -> str:
    from sqlalchemy import select

    from dashboard.db import Database
    from dashboard.models import Category

    db = Database(db_url)
    try:
        with db.read() as s:
            return s.scalar(select(Category.code).where(Category.active.is_(True)).order_by(Category.code))
    finally:
        db.dispose()


def _inside(geom: dict) -> tuple[float, float]:
    from shapely.geometry import shape

    pt = shape(geom).representative_point()
    return pt.x, pt.y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=300, help="measured seconds after warm-up (default 300)")
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--pages", type=int, default=10, help="/wall pages open (default 10)")
    ap.add_argument("--every", type=float, default=3.0, help="seconds between probe reports")
    ap.add_argument("--sim-speed", type=float, default=1.5, help="simulator speed (1.5 ≈ every worker every 5 s)")
    ap.add_argument("--sim-hour", type=float, default=15,
                    help="the street's simulated hour (default 15: 476 of 490 workers out whatever the clock; -1 = the clock)")
    ap.add_argument("--browser-nice", type=int, default=0,
                    help="run the browsers at this nice level (e.g. 10): the server first for the CPU; default 0 = "
                         "everything on this box competes equally (on 2 CPUs not enough to keep the server's "
                         "wake-ups prompt: see --own-pc)")
    ap.add_argument("--own-pc", action="store_true",
                    help="the measured wall and the polling page in a browser of their own, alone on the last CPU, as "
                         "on the control room's own PC; the server and the other walls share the other CPUs "
                         "(default: everything on every CPU, competing)")
    ap.add_argument("--timeline", action="store_true",
                    help="also record, per probe, when a Python socket beside the walls got it (the server's push) and "
                         "every socket message's arrival on wall 1, and each minute the CPU of each process group and "
                         "what wall 1 holds (a diagnosis of the tail; adds one socket)")
    ap.add_argument("--category")
    ap.add_argument("--server-arg", action="append", default=[], help="one more argument for run.py (repeat), "
                                                                      "e.g. --server-arg=--no-gevent")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    res = stamped_run(run, args)
    L = res["latency_ms"]
    f = lambda d: "—" if d is None else f"{d:.0f}"  # noqa: E731
    print(f"\n{res['walls_open']} wall pages open, {res['sim_speed']}× simulator")
    print("path                     p50    p95    p99   (ms, n)")
    for k in ("wall_ticker", "wall_map", "poll_ticker", "poll_map"):
        print(f"{k:<22} {f(L[k]['p50']):>6} {f(L[k]['p95']):>6} {f(L[k]['p99']):>6}   n={L[k]['n']} "
              f"missing={res['missing'][k]}")
    for k, d in res["wall_ticker_split_ms"].items():
        print(f"  wall ticker, {k.replace('_', ' '):<18} {f(d['p50']):>6} {f(d['p95']):>6} {f(d['p99']):>6}   n={d['n']}")
    st = res["post_server_timing_ms"]
    print(f"report POST acknowledged p50/p95: {f(res['post_ack_ms']['p50'])} / {f(res['post_ack_ms']['p95'])} ms; "
          f"in the server {f(st['app']['p50'])} / {f(st['app']['p95'])}, of which waiting for the write turn "
          f"{f(st['write-turn']['p50'])} / {f(st['write-turn']['p95'])} (Server-Timing)")
    print("CPU % of one core while the push wall was measured:", res["cpu_pct_push_phase"])
    print("cold load, median ms since navigation at each step:", res["cold_load_steps_ms"])
    own = " (the measured wall, on its own CPU)" if res["own_pc_cpu"] else ""
    c = res["cold_load_ms"]
    print(f"cold load to first live frame{own} p50/max: {f(c['p50'])} / {f(c['max'])} ms")
    if res["own_pc_cpu"]:
        o = res["cold_load_others_ms"]
        print(f"cold load of the other walls (sharing the server's CPU) p50/max: {f(o['p50'])} / {f(o['max'])} ms")
    print(f"heap {res['heap_mb']['after_warmup']:.1f} → {res['heap_mb']['end']:.1f} MB "
          f"({res['heap_mb']['growth_pct']:+.1f} %)")
    if "timeline" in res:  # per minute of the push phase: the ticker's p95 beside what each process group used
        tl = res["timeline"]
        print("minute  ticker p95   CPU % of a core by group since the last row   wall holds")
        t_prev = tl["t0_ms"]
        for row in tl["samples"]:
            lat = [seen - t0 for tok, t0, *_, seen in tl["probes"] if seen is not None and t_prev <= t0 < row["t_ms"]]
            p95 = pct(lat, 95)
            print(f"{(row['t_ms'] - tl['t0_ms']) / 60000:6.1f}  {f(p95):>10}   {row['cpu_pct']}   {row['wall']}")
            t_prev = row["t_ms"]


if __name__ == "__main__":
    main()
