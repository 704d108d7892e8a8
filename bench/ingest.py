"""Sustained position ingest: /osmand (one fix per request) and POST /api/v1/positions (batches),
beside the raw insert rate of the same database in the same run, with acknowledgement times.

    python bench/ingest.py                     # SQLite in a temp folder, demo street (490 devices)
    python bench/ingest.py --clients 8 --osmand-requests 600 --batches 40 --batch-size 100
    python bench/ingest.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test   # an EMPTY database

The server is the real app (create_app + the Werkzeug threaded server that run.py uses) in
this process; the load comes from separate client processes so they don't share its GIL.
An acknowledgement is the HTTP answer, which is sent only after the fixes are committed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing as mp
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def osmand_threads(args) -> tuple[int, list[float]]:
    """``threads`` concurrent single-fix senders in this process (many phones at once)."""
    port, devices, points, n, offset, threads = args
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as ex:
        parts = list(ex.map(osmand_client, [(port, devices, points, n // threads, offset * 1000 + k)
                                            for k in range(threads)]))
    return sum(p[0] for p in parts), [x for p in parts for x in p[1]]


def osmand_client(args) -> tuple[int, list[float]]:
    """One client: ``n`` single-fix requests (query-string style), one connection each (like the apps).

    With ``devices`` empty it sends a request the server refuses before touching the database
    (no id → 400): the HTTP ceiling of the server for comparison.
    """
    port, devices, points, n, offset = args
    if not devices:
        lat_ms = []
        for _ in range(n):
            t0 = time.perf_counter()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/osmand?lat=1&lon=2")
            c.getresponse().read()
            c.close()
            lat_ms.append((time.perf_counter() - t0) * 1000)
        return n, lat_ms
    lat_ms: list[float] = []
    ok = 0
    for i in range(n):
        dev = devices[(offset + i) % len(devices)]
        lat, lon = points[(offset + i) % len(points)]
        ts = 1764380000 + offset * 10000 + i  # unique per fix: nothing is a duplicate
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", f"/osmand?id={dev}&lat={lat:.6f}&lon={lon:.6f}&timestamp={ts}&speed=1.2&batt=80")
        r = c.getresponse()
        r.read()
        c.close()
        lat_ms.append((time.perf_counter() - t0) * 1000)
        ok += r.status == 200
    return ok, lat_ms


def batch_client(args) -> tuple[int, list[float]]:
    """One client: ``n`` POST /api/v1/positions batches of ``size`` fixes for one device."""
    port, key, device, points, n, size, offset, *style = args
    array = bool(style and style[0] == "osmand-array")  # Traccar SDK uploadJson: a JSON array to /osmand
    errors: list[str] = []
    lat_ms: list[float] = []
    accepted = 0
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for b in range(n):
        base = 1764380000 + offset * 1000000 + b * size
        fixes = [{"t": base + j, "lat": points[(b + j) % len(points)][0], "lon": points[(b + j) % len(points)][1],
                  "speed": 1.2, "battery": 80} for j in range(size)]
        body = json.dumps([{"id": device, "lat": f["lat"], "lon": f["lon"], "timestamp": f["t"], "speed": 2.3,
                            "batt": 80} for f in fixes] if array else {"device_id": device, "fixes": fixes})
        path = "/osmand" if array else "/api/v1/positions"
        t0 = time.perf_counter()
        try:
            c.request("POST", path, body=body, headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            r = c.getresponse()
            data = r.read()
        except (http.client.HTTPException, OSError):  # the server closed a kept-alive connection
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", path, body=body, headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            r = c.getresponse()
            data = r.read()
        lat_ms.append((time.perf_counter() - t0) * 1000)
        if r.status == 200:
            accepted += size if array else json.loads(data)["accepted"]
        elif not errors:
            errors.append(f"{r.status} {data[:200]!r}")
    c.close()
    if errors:
        print("first refused request:", errors[0], file=sys.stderr)
    return accepted, lat_ms


def raw_insert_rate(services, worker_ids: list[int], points: list, n: int) -> float:
    """Position rows/s straight into the same database: Core executemany in batches of 500."""
    from dashboard.models import Position

    now = datetime.now(timezone.utc)
    rows = [dict(worker_id=worker_ids[i % len(worker_ids)], fix_time=datetime.fromtimestamp(1700000000 + i,
                 tz=timezone.utc), received_at=now, lat=points[i % len(points)][0], lon=points[i % len(points)][1],
                 speed=1.2, battery=80.0, grid_id=None, outside=False, source="bench") for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        with services.db.write() as s:
            s.execute(Position.__table__.insert(), rows[i:i + 500])
    return n / (time.perf_counter() - t0)


def run(args) -> dict:
    from sqlalchemy import func, select
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from dashboard.config import Settings
    from dashboard.db import migrate
    from dashboard.models import Grid, Position, Worker
    from dashboard.services.apikeys import create_api_key
    from dashboard.services.importers import load_demo

    tmp = Path(tempfile.mkdtemp(prefix="gc-bench-ingest-"))
    db_url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    # the per-device/per-address rate limit (security.py, GC_RATE_OSMAND) is for real phones; the bench
    # pushes thousands of fixes a minute from one address, so it is switched off here
    # (and it listens on a port of its own, which the default allowed hosts do not name)
    settings = Settings.from_env({"GC_RATE_OSMAND": "off", "GC_ALLOWED_HOSTS": "*"}, db_url=db_url, data_dir=tmp,
                                 simulate=False)
    app, services = create_app(settings)
    migrate(services.db.engine)
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    services.reload_grids()
    with services.db.write() as s:
        _, key = create_api_key(s, name="bench", role="integration")
        workers = s.execute(select(Worker.id, Worker.device_id).where(Worker.device_id.is_not(None))).all()
        points = [(g.centroid_lat, g.centroid_lon) for g in s.scalars(select(Grid))]
    devices = [w.device_id for w in workers]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out: dict = {"db": services.db.engine.dialect.name, "devices": len(devices), "clients": args.clients,
                 "threads": args.threads}

    raw = raw_insert_rate(services, [w.id for w in workers], points, args.raw_rows)
    out["raw_rows_per_s"] = raw

    ctx = mp.get_context("spawn")
    with ctx.Pool(args.clients) as pool:
        pool.map(osmand_client, [(port, devices, points, 5, 10_000 + i) for i in range(args.clients)])  # warm-up
        t0 = time.perf_counter()
        res = pool.map(osmand_threads, [(port, devices, points, args.osmand_requests, i, args.threads)
                                        for i in range(args.clients)])
        dt = time.perf_counter() - t0
        lat = [x for _, ls in res for x in ls]
        out["osmand"] = {"fixes": sum(ok for ok, _ in res), "seconds": dt, "fixes_per_s": sum(ok for ok, _ in res) / dt,
                         "p50_ms": statistics.median(lat), "p95_ms": pct(lat, 95), "max_ms": max(lat)}

        t0 = time.perf_counter()
        res = pool.map(osmand_threads, [(port, [], points, args.osmand_requests, i, args.threads)
                                        for i in range(args.clients)])
        dt = time.perf_counter() - t0
        lat = [x for _, ls in res for x in ls]
        out["http_floor"] = {"requests_per_s": sum(ok for ok, _ in res) / dt, "p95_ms": pct(lat, 95)}

        t0 = time.perf_counter()
        res = pool.map(batch_client, [(port, key, devices[i % len(devices)], points, args.batches, args.batch_size,
                                       100 + i) for i in range(args.clients)])
        dt = time.perf_counter() - t0
        lat = [x for _, ls in res for x in ls]
        out["batch"] = {"fixes": sum(a for a, _ in res), "seconds": dt, "fixes_per_s": sum(a for a, _ in res) / dt,
                        "batch_size": args.batch_size, "p50_ms": statistics.median(lat), "p95_ms": pct(lat, 95),
                        "max_ms": max(lat)}
        t0 = time.perf_counter()
        res = pool.map(batch_client, [(port, key, devices[(i + 50) % len(devices)], points, args.batches,
                                       args.batch_size, 200 + i, "osmand-array") for i in range(args.clients)])
        dt = time.perf_counter() - t0
        lat = [x for _, ls in res for x in ls]
        out["osmand_array"] = {"fixes": sum(a for a, _ in res), "seconds": dt,
                               "fixes_per_s": sum(a for a, _ in res) / dt, "p50_ms": statistics.median(lat),
                               "p95_ms": pct(lat, 95)}
    with services.db.read() as s:
        out["stored"] = s.scalar(select(func.count()).select_from(Position))
    server.shutdown()
    services.shutdown()
    return out


def report(r: dict) -> str:
    o, b = r["osmand"], r["batch"]
    lines = [
        f"database: {r['db']}, {r['devices']} registered devices, {r['clients']} client processes "
        f"(/osmand: {r['threads']} concurrent senders each)",
        f"raw insert (Core executemany, 500/txn):  {r['raw_rows_per_s']:>9,.0f} rows/s",
        f"POST /api/v1/positions ({b['batch_size']}/batch): {b['fixes_per_s']:>9,.0f} fixes/s  "
        f"({b['fixes']:,} fixes in {b['seconds']:.1f} s; ack p50 {b['p50_ms']:.0f} ms, p95 {b['p95_ms']:.0f} ms, "
        f"max {b['max_ms']:.0f} ms per batch)",
        f"/osmand (1 fix/request, new connection): {o['fixes_per_s']:>9,.0f} fixes/s  "
        f"({o['fixes']:,} fixes in {o['seconds']:.1f} s; ack p50 {o['p50_ms']:.1f} ms, p95 {o['p95_ms']:.1f} ms, "
        f"max {o['max_ms']:.0f} ms)",
        f"/osmand JSON array ({b['batch_size']}/request):   {r['osmand_array']['fixes_per_s']:>9,.0f} fixes/s  "
        f"(ack p50 {r['osmand_array']['p50_ms']:.0f} ms, p95 {r['osmand_array']['p95_ms']:.0f} ms per request)",
        f"HTTP ceiling (/osmand refused before the DB, 400): {r['http_floor']['requests_per_s']:,.0f} requests/s "
        f"(p95 {r['http_floor']['p95_ms']:.1f} ms)",
        f"batch API vs raw insert: {b['fixes_per_s'] / r['raw_rows_per_s']:.0%};  "
        f"/osmand vs raw insert: {o['fixes_per_s'] / r['raw_rows_per_s']:.1%}",
        f"rows stored in the run: {r['stored']:,}",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", help="database URL (default: a new SQLite file); must be an empty database")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--osmand-requests", type=int, default=1600, help="requests per client process")
    p.add_argument("--threads", type=int, default=16, help="concurrent /osmand senders per client process")
    p.add_argument("--batches", type=int, default=50, help="batches per client")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--raw-rows", type=int, default=50_000)
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    r = run(args)
    print(f"machine: {mp.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}")
    print(report(r))
    if args.json:
        print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
