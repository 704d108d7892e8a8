"""Load and soak: 5,000 devices at one fix per 10 s plus 50 walls, on PostgreSQL + Redis, several processes.

    python bench/load_soak.py                    # 10 minutes, 5,000 devices, 50 walls, 3 worker processes
    python bench/load_soak.py --minutes 3 --workers 2 --write   # and append the figures to bench/RESULTS.md
    python bench/load_soak.py --minutes 3 --devices 1000 --walls 20 --reports-per-s 10   # and cases from the API

Loopback only. Builds a fresh database on the machine's PostgreSQL (a synthetic city
slice with one grid worker per device, from dashboard/demodata/city.py), starts
``run.py prod`` (gunicorn gthread workers, Redis message queue, simulator off), then:

- devices: OsmAnd/Traccar-style ``GET /osmand?id=&lat=&lon=&timestamp=`` once per
  10 s each, phases spread evenly, from separate sender processes;
- walls: python-socketio clients that behave like GCLive (snapshot, batches by seq,
  a gap held for the overtaken batch, then /api/v1/events?after=), in their own process.

Reports: fix errors, POST round trip, push latency (fix POST → the 'positions' frame
holding that fix applied on a wall) p50/p95/p99 over a sample of devices × every
wall, fixes a wall never received, wall reconnects, gap fetches and gaps filled by a held push, server RSS over
time, load average, DB growth.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing as mp
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
log = logging.getLogger("load_soak")
PG_ADMIN = os.environ.get("GC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the world -------------------------------------------------------------------
def make_database(devices: int) -> tuple[str, str, str, str]:
    """A fresh database with a city slice: one worker (device) per ~2 grids' share."""
    import psycopg

    from dashboard.db import Database, migrate
    from dashboard.demodata.city import generate_city

    name = f"gc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    migrate(db.engine)
    generate_city(db.engine, grids=max(100, devices // 2), workers=devices, cases=2_000, seed=11)
    from dashboard.services.apikeys import create_api_key

    with db.write() as s:  # production mode: walls sign in with a display key, reports come with an integration key
        _, key = create_api_key(s, name="load_soak walls", role="display")
        _, report_key = create_api_key(s, name="load_soak reports", role="integration")
    db.dispose()
    return url, name, key, report_key


# -- reports -----------------------------------------------------------------------
def reporter(base: str, key: str, category: str, places: list, rate: float, until: float, threads: int,
             out: dict) -> None:
    """Cases through the field API at ``rate`` per second over ``threads`` threads: each process accepts some, so
    one process's events overtake another's on the way to a wall."""
    import requests

    rtt: list[float] = []
    errors = 0
    lock = threading.Lock()

    def run(t: int) -> None:
        nonlocal errors
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        k = t
        while time.time() < until:
            _, _, lat, lon = places[k % len(places)]
            t0 = time.time()
            try:
                r = http.post(base + "/api/v1/cases", timeout=30, headers={"Idempotency-Key": uuid.uuid4().hex},
                              json={"category_code": category, "description": f"load_soak {k}", "lat": lat,
                                    "lon": lon})
                ok = r.status_code == 201
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    rtt.append(time.time() - t0)
                else:
                    errors += 1
            k += threads
            time.sleep(max(0.0, t0 + threads / rate - time.time()))

    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.update(rtt=rtt, errors=errors)


def first_category(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute("SELECT code FROM category WHERE active ORDER BY code LIMIT 1").fetchone()[0]


def devices_of(url: str) -> list[tuple[int, str, float, float]]:
    """(worker id, device id, home lat, home lon) for every device."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute("SELECT w.id, w.device_id, g.centroid_lat, g.centroid_lon FROM worker w "
                            "JOIN grid g ON g.id = w.grid_id ORDER BY w.id").fetchall()


def db_figures(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        pos = conn.execute("SELECT count(*) FROM position").fetchone()[0]
        ev = conn.execute("SELECT count(*) FROM event").fetchone()[0]
    return {"bytes": size, "positions": pos, "events": ev}


def process_tree_rss(pid: int) -> tuple[int, int]:
    """(total RSS in bytes, number of processes) of a process and its children."""
    pids, total = {pid}, 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.add(int(d.name))
            except (OSError, ValueError, IndexError):
                pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total, len(pids)


# -- devices ---------------------------------------------------------------------
def sender(base_port: int, devices: list, interval: float, until: float, threads: int, sample: int,
           out: mp.Queue) -> None:
    """One sender process: devices round-robin over threads, each on a keep-alive connection."""
    sent_at: dict[tuple[int, int], float] = {}
    rtt: list[float] = []
    counts = {"ok": 0, "http_error": 0, "exception": 0, "late": 0}
    kinds: dict[str, int] = {}
    lock = threading.Lock()
    n = len(devices)

    def run(mine: list) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
        k = 0
        while True:
            for phase, (wid, dev, lat, lon) in mine:
                due = start + k * interval + phase
                if due >= until or time.time() >= until:  # a saturated server: drop the backlog at the end
                    conn.close()
                    return
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                ts = int(due)
                jit = ((wid * 7919 + k * 104729) % 2000 - 1000) / 1e6
                path = f"/osmand?id={dev}&lat={lat + jit:.6f}&lon={lon - jit:.6f}&timestamp={ts}&batt=80"
                t0 = time.time()
                status = None
                for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
                    try:
                        conn.request("GET", path)
                        r = conn.getresponse()
                        r.read()
                        status = r.status
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
                        if attempt == 2:
                            with lock:
                                counts["exception"] += 1
                                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                if status is None:
                    continue
                ok = status == 200
                if not ok:
                    with lock:
                        kinds[str(status)] = kinds.get(str(status), 0) + 1
                t1 = time.time()
                with lock:
                    counts["ok" if ok else "http_error"] += 1
                    counts["late"] += t0 - due > 2.0  # the server could not keep up with the schedule
                    rtt.append(t1 - t0)
                    if ok and wid % sample == 0:
                        sent_at[(wid, ts)] = t0
            k += 1

    start = time.time() + 1
    per_thread: list[list] = [[] for _ in range(threads)]
    for i, d in enumerate(devices):
        per_thread[i % threads].append((i * interval / n, d))
    ts_ = [threading.Thread(target=run, args=(sorted(m),), daemon=True) for m in per_thread]
    for t in ts_:
        t.start()
    for t in ts_:
        t.join()
    out.put({"counts": counts, "kinds": kinds, "rtt": rtt, "sent_at": sent_at})


# -- walls -----------------------------------------------------------------------
def walls_process(url: str, key: str, walls: int, until: float, sample: int, out: mp.Queue) -> None:
    from tests.utils.wall_client import WallClient

    seen: list[dict[int, dict[int, float]]] = [dict() for _ in range(walls)]  # wid → fix time → first seen

    def hook(i: int):
        def on_event(m: dict, at: float, pushed: bool) -> None:
            if m["type"] != "positions":
                return
            rec = seen[i]
            for row in m["payload"]["workers"]:
                wid = row[0]
                if wid % sample == 0:
                    rec.setdefault(wid, {}).setdefault(int(datetime.fromisoformat(row[4]).timestamp()), at)
        return on_event

    clients = []
    for i in range(walls):
        c = WallClient(url, on_event=hook(i), keep_events=False, api_key=key)
        for attempt in range(5):
            try:
                c.start()
                break
            except Exception as exc:
                logging.getLogger("load_soak").warning("wall %d could not start: %r", i, exc)
                time.sleep(1)
        clients.append(c)
    time.sleep(max(0, until - time.time()))
    stats = [{"pushed": len(c.pushed), "fetched": len(c.fetched), "gaps": c.gaps, "reconnects": c.reconnects,
              "overtaken": c.overtaken, "held_s": c.held_s, "holes": c.holes,
              "connected": c.sio.connected} for c in clients]
    for c in clients:
        c.close()
    out.put({"seen": seen, "stats": stats})


# -- run -------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between fixes of one device")
    ap.add_argument("--walls", type=int, default=50)
    ap.add_argument("--workers", type=int, default=3, help="server processes (gunicorn gthread workers)")
    ap.add_argument("--threads", type=int, default=64, help="threads per server process")
    ap.add_argument("--senders", type=int, default=2, help="sender processes")
    ap.add_argument("--sample", type=int, default=25, help="measure push latency for worker ids divisible by this")
    ap.add_argument("--reports-per-s", type=float, default=0,
                    help="also report cases through the API at this rate (spread over the processes)")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    log.info("building the database (%d devices)…", args.devices)
    url, dbname, wall_key, report_key = make_database(args.devices)
    devices = devices_of(url)
    port = free_port()
    tmp = Path(f"/tmp/gc_load_soak_{dbname}")
    tmp.mkdir(exist_ok=True)
    server_log = tmp / "server.log"
    env = {**os.environ, "GC_PRODUCTION": "1", "GC_SECRET_KEY": uuid.uuid4().hex * 2, "GC_REDIS_URL": REDIS_URL,
           "GC_ALLOWED_HOSTS": f"127.0.0.1:{port}",
           "GC_REDIS_CHANNEL": f"gc-bench-{dbname}", "GC_DATA_DIR": str(tmp / "var")}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(port), "--db", url, "--no-sim",
                               "--log-level", "WARNING", "prod", "--workers", str(args.workers),
                               "--threads", str(args.threads)], cwd=ROOT, env=env, start_new_session=True,
                              stdout=open(server_log, "ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.time() + 180
        while time.time() < deadline:
            if server.poll() is not None:
                raise SystemExit("server exited:\n" + server_log.read_text()[-3000:])
            try:
                if server_log.read_text().count("worker ready") >= args.workers and \
                        requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("server did not start:\n" + server_log.read_text()[-3000:])
        db0 = db_figures(url)
        rss0 = process_tree_rss(server.pid)
        t_start = time.time() + 30  # walls connect and the first scheduled jobs run before the load
        until = t_start + args.minutes * 60
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()
        wp = ctx.Process(target=walls_process, args=(base, wall_key, args.walls, until + 15, args.sample, q),
                         daemon=True)
        wp.start()
        time.sleep(max(0, t_start - time.time()))
        chunks = [devices[i::args.senders] for i in range(args.senders)]
        senders = [ctx.Process(target=sender, args=(port, c, args.interval, until, 48, args.sample, q), daemon=True)
                   for c in chunks]
        for p in senders:
            p.start()
        reports: dict = {"rtt": [], "errors": 0}
        if args.reports_per_s > 0:
            threading.Thread(target=reporter, args=(base, report_key, first_category(url), devices, args.reports_per_s,
                                                    until, 8, reports), daemon=True).start()
        samples = []
        while time.time() < until + 15:
            rss, nproc = process_tree_rss(server.pid)
            samples.append({"t": round(time.time() - t_start), "rss_mb": round(rss / 2**20), "procs": nproc,
                            "load1": os.getloadavg()[0]})
            log.info("t=%4ds  server RSS %5d MB in %d processes  load %.1f", samples[-1]["t"],
                     samples[-1]["rss_mb"], nproc, samples[-1]["load1"])
            time.sleep(30)
        results = []
        for _ in range(args.senders + 1):  # senders stop at the deadline; walls 15 s later
            try:
                results.append(q.get(timeout=180))
            except Exception:
                log.error("a load process gave no result in time")
        for p in [wp, *senders]:
            p.join(30)
        db1 = db_figures(url)
        alive = server.poll() is None
    finally:
        try:
            os.killpg(server.pid, signal.SIGQUIT)
            server.wait(30)
        except Exception:
            os.killpg(server.pid, signal.SIGKILL)
    walls = next((r for r in results if "seen" in r), {"seen": [], "stats": []})
    sends = [r for r in results if "counts" in r]
    counts = {k: sum(s["counts"][k] for s in sends) for k in ("ok", "http_error", "exception", "late")}
    rtt = [x for s in sends for x in s["rtt"]]
    sent_at: dict = {}
    for s in sends:
        sent_at.update(s["sent_at"])
    lat, missing = push_latencies(walls["seen"], sent_at, cutoff=until - 5)
    stats = walls["stats"]
    figures = {
        "minutes": args.minutes, "devices": args.devices, "walls": args.walls, "workers": args.workers,
        "fixes_ok": counts["ok"], "fix_errors": counts["http_error"] + counts["exception"],
        "fix_error_kinds": {k: sum(s["kinds"].get(k, 0) for s in sends) for s0 in sends for k in s0["kinds"]},
        "fix_rate_per_s": round(counts["ok"] / (args.minutes * 60), 1),
        "fixes_sent_over_2s_late": counts["late"],
        "post_rtt_ms": {q: round(pct(rtt, q) * 1000, 1) for q in (50, 95, 99)},
        "push_latency_ms": {q: round(pct(lat, q) * 1000, 1) for q in (50, 95, 99)},
        "push_samples": len(lat), "fixes_never_on_a_wall": missing,
        "walls_reporting": len(stats), "walls_connected_at_end": sum(s["connected"] for s in stats),
        "reports_per_s": args.reports_per_s, "cases_reported": len(reports["rtt"]),
        "case_errors": reports["errors"], "case_post_rtt_ms": {q: round(pct(reports["rtt"], q) * 1000, 1) for q in (50, 95, 99)},
        "wall_reconnects": sum(s["reconnects"] for s in stats), "wall_gap_fetches": sum(s["gaps"] for s in stats),
        "wall_overtaken_held": sum(s["overtaken"] for s in stats),  # gaps a held batch's push filled, no fetch
        "wall_gap_holes": sum(s["holes"] for s in stats),  # gap fetches where the missing seq never committed
        "wall_held_ms": {q: round(pct([x for s in stats for x in s["held_s"]], q) * 1000, 1) for q in (50, 95, 99)},
        "rss_mb": {"start": round(rss0[0] / 2**20), "max": max(s["rss_mb"] for s in samples),
                   "end": samples[-1]["rss_mb"]},
        "rss_series_mb": [(s["t"], s["rss_mb"]) for s in samples],
        "load1_max": max(s["load1"] for s in samples),
        "db_growth": {"mb": round((db1["bytes"] - db0["bytes"]) / 2**20, 1),
                      "positions": db1["positions"] - db0["positions"], "events": db1["events"] - db0["events"]},
        "server_alive": alive,
    }
    print(json.dumps(figures, indent=1))
    if args.write:
        write_results(figures, argv if argv is not None else sys.argv[1:])
    if not args.keep:
        import psycopg

        with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def push_latencies(seen: list[dict[int, dict[int, float]]], sent_at: dict[tuple[int, int], float], *,
                   cutoff: float) -> tuple[list[float], int]:
    """Per wall and sent fix: time until a frame holding that fix, or a newer one of the same worker
    (frames carry each worker's newest fix only), was applied. Returns (latencies, fixes never shown)."""
    from bisect import bisect_left

    lat, missing = [], 0
    for rec in seen:
        index = {}
        for wid, by_t in rec.items():
            ts = sorted(by_t)
            suffix_min, m = [0.0] * len(ts), float("inf")
            for i in range(len(ts) - 1, -1, -1):
                m = min(m, by_t[ts[i]])
                suffix_min[i] = m
            index[wid] = (ts, suffix_min)
        for (wid, t), t0 in sent_at.items():
            if t0 > cutoff:
                continue
            ts, suffix_min = index.get(wid, ([], []))
            i = bisect_left(ts, t)
            if i == len(ts):
                missing += 1
            else:
                lat.append(max(0.0, suffix_min[i] - t0))
    return lat, missing


def write_results(f: dict, argv: list[str]) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    lines = [
        "", f"## Load and soak — {f['devices']:,} devices, {f['walls']} walls, {f['workers']} processes, "
            f"{f['minutes']:g} min ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
        f"Command: `python bench/load_soak.py {' '.join(argv)}`  ",
        f"Machine: {os.cpu_count()} CPUs ({cpu}), {mem:,} MB RAM, Python {platform.python_version()}; "
        f"PostgreSQL + Redis on the same machine, loopback. Peak 1-min load average during the run: "
        f"{f['load1_max']:.1f} (other test suites were running on this machine at the same time).", "",
        "| figure | value |", "|---|---|",
        f"| fixes accepted (200) | {f['fixes_ok']:,} ({f['fix_rate_per_s']}/s; target {f['devices'] / 10:g}/s) |",
        f"| fixes sent more than 2 s behind schedule (server saturated) | {f['fixes_sent_over_2s_late']:,} |",
        f"| fix errors (non-200 or connection) | {f['fix_errors']:,} {f['fix_error_kinds'] or ''} |",
        f"| fix POST round trip p50 / p95 / p99 | {f['post_rtt_ms'][50]} / {f['post_rtt_ms'][95]} / "
        f"{f['post_rtt_ms'][99]} ms |",
        f"| push latency, fix POST → frame on a wall, p50 / p95 / p99 | {f['push_latency_ms'][50]} / "
        f"{f['push_latency_ms'][95]} / {f['push_latency_ms'][99]} ms ({f['push_samples']:,} samples) |",
        f"| sampled (fix, wall) pairs never shown (nor a newer fix) | {f['fixes_never_on_a_wall']:,} |",
        f"| walls connected at the end / reconnects / gap fetches / gaps a held push filled | "
        f"{f['walls_connected_at_end']} / {f['wall_reconnects']} / {f['wall_gap_fetches']:,} / "
        f"{f['wall_overtaken_held']:,} (held p50 / p95 / p99 {f['wall_held_ms'][50]} / {f['wall_held_ms'][95]} / "
        f"{f['wall_held_ms'][99]} ms) |",
        f"| cases reported through the API (errors), POST p50 / p95 / p99 | {f['cases_reported']:,} "
        f"({f['case_errors']}) at {f['reports_per_s']}/s, {f['case_post_rtt_ms'][50]} / {f['case_post_rtt_ms'][95]} / "
        f"{f['case_post_rtt_ms'][99]} ms |",
        f"| server RSS (all processes) start / max / end | {f['rss_mb']['start']} / {f['rss_mb']['max']} / "
        f"{f['rss_mb']['end']} MB |",
        f"| server RSS over time (s: MB) | {', '.join(f'{t}: {m}' for t, m in f['rss_series_mb'])} |",
        f"| DB growth | {f['db_growth']['mb']} MB, {f['db_growth']['positions']:,} positions, "
        f"{f['db_growth']['events']:,} events |",
        f"| server alive at the end | {'yes' if f['server_alive'] else 'NO'} |", ""]
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
