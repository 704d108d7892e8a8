"""Sustained position ingest: one-fix-per-request /osmand on the main port and on the dedicated port, beside the
raw insert rate of the same database in the same run, with acknowledgement times; optionally side by side with
another tree (the previous commit) in the same run.

    python bench/ingest.py                                  # SQLite in a temp folder, this tree
    python bench/ingest.py --compare /tmp/prev              # and a worktree of the previous commit, same run
    python bench/ingest.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test   # a fresh database per server
    python bench/ingest.py --batch-api                      # the older in-process run: batch API + JSON arrays

Each server runs in a process of its own (the tree's ``create_app`` — the main port as ``python run.py`` serves
it, Werkzeug threads — or the tree's ``serve_dedicated``), on a fresh database with the demo street plus
``--devices`` registered devices (20,000 phones: one fix every 10 s each is 2,000 fixes/s). Before serving it
measures the raw insert rate of that database (Core executemany, 500 rows a transaction). The load comes from
``--clients`` processes of asyncio keep-alive connections (raw sockets, requests prepared in advance): first a
closed loop (each connection sends its next fix when the last is answered: the most the server takes), then an
open loop at ``--rate`` fixes/s (acknowledgement = answer time from the moment the fix was due, so a server that
falls behind shows it). Half the connections send the query-string style (OsmAnd, legacy Traccar: GET), half
the form body (Traccar Client 10: POST). The per-device budget stays at its default (GC_RATE_OSMAND), and
refusals are counted. The client's own ceiling is measured against a trivial server (a canned 200) and printed.
An acknowledgement is the HTTP answer, sent only after the commit that holds the fix.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing as mp
import os
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
    # the per-device/per-address rate limits (GC_RATE_OSMAND, GC_RATE_POSITIONS) are for real phones; the bench
    # pushes thousands of fixes a minute from one address, so it is switched off here
    # (and it listens on a port of its own, which the default allowed hosts do not name)
    settings = Settings.from_env({"GC_RATE_OSMAND": "off", "GC_RATE_POSITIONS": "off", "GC_ALLOWED_HOSTS": "*"},
                                 db_url=db_url, data_dir=tmp, simulate=False)
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


# -- one-fix /osmand at city rate: a server per tree in its own process, asyncio keep-alive clients ---------------

def device_ids(n: int) -> list[str]:
    return [f"CITY{i:05d}" for i in range(n)]


def add_devices(services, n: int) -> None:
    """``n`` more registered workers with devices (one fix every 10 s each), spread over the demo's grids."""
    from sqlalchemy import select

    from dashboard.models import Grid, Worker

    with services.db.write() as s:
        grids = list(s.scalars(select(Grid.id)))
        rows = [dict(code=f"C{i:05d}", name=f"城市{i}", phone="", device_id=dev, grid_id=grids[i % len(grids)],
                     role="专职网格员", shift="day", duty_state="offline", active=True)
                for i, dev in enumerate(device_ids(n))]
        for k in range(0, n, 2000):
            s.execute(Worker.__table__.insert(), rows[k:k + 2000])


def serve_main(args) -> None:
    """Server process: the app of ``--app-root`` on a fresh database; prints one JSON line when it listens."""
    sys.path.insert(0, args.app_root)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from dashboard.config import Settings
    from dashboard.db import migrate
    from dashboard.models import Grid, Worker
    from dashboard.services.importers import load_demo

    tmp = Path(tempfile.mkdtemp(prefix="gc-bench-ingest-"))
    settings = Settings.from_env({"GC_ALLOWED_HOSTS": "*"}, db_url=args.db or f"sqlite:///{tmp / 'bench.db'}",
                                 data_dir=tmp, simulate=False)
    app, services = create_app(settings)
    migrate(services.db.engine)
    with services.db.write() as s:
        load_demo(s, Path(args.app_root) / "data" / "xiyilu")
    services.reload_grids()
    add_devices(services, args.devices)
    with services.db.read() as s:
        wids = list(s.scalars(select(Worker.id)))
        points = [(g.centroid_lat, g.centroid_lon) for g in s.scalars(select(Grid))]
    raw = raw_insert_rate(services, wids, points, args.raw_rows)
    if args.target in ("gevent", "gevent-dedicated"):  # python run.py on this database (the default: greenlets)
        services.shutdown()
        print(json.dumps({"port": args.port, "raw_rows_per_s": raw, "db": services.db.engine.dialect.name,
                          "points": points[:50], "db_url": settings.db_url}), flush=True)
        env = {**os.environ, "GC_ALLOWED_HOSTS": "*", "GC_DEMO_HISTORY_DAYS": "0", "GC_DATA_DIR": str(tmp)}
        ports = (["--port", str(args.port)] if args.target == "gevent" else
                 ["--port", str(args.port2), "--osmand-port", str(args.port)])
        os.chdir(args.app_root)
        os.execvpe(sys.executable, [sys.executable, "run.py", "--no-sim", "--log-level", "WARNING",
                                    "--db", settings.db_url, *ports], env)
    if args.target.startswith("prod"):  # the production server on this database: run.py prod (gunicorn, gevent)
        services.shutdown()
        print(json.dumps({"port": args.port, "raw_rows_per_s": raw, "db": services.db.engine.dialect.name,
                          "points": points[:50], "db_url": settings.db_url}), flush=True)
        env = {**os.environ, "GC_SECRET_KEY": "bench-" + "x" * 40, "GC_ALLOWED_HOSTS": "*",
               "GC_REDIS_CHANNEL": f"gc-bench-ingest-{os.getpid()}"}
        if args.workers > 1:
            env.setdefault("GC_REDIS_URL", "redis://127.0.0.1:6379/0")
        argv = [sys.executable, "run.py", "--no-sim", "--log-level", "WARNING", "--db", settings.db_url,
                "--port", str(args.port2 if args.target == "prod-dedicated" else args.port)]
        if args.target == "prod-dedicated":
            argv += ["--osmand-port", str(args.port)]
        os.chdir(args.app_root)
        os.execvpe(sys.executable, argv + ["prod", "--workers", str(args.workers)], env)
    if args.target == "dedicated":
        from dashboard.api.osmand import serve_dedicated

        serve_dedicated(services, "127.0.0.1", args.port, app.extensions.get("gc_osmand_group_commit"))
        port = args.port
    else:
        server = make_server("127.0.0.1", args.port or 0, app, threaded=True)
        port = server.server_port
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": port, "raw_rows_per_s": raw, "db": services.db.engine.dialect.name,
                      "points": points[:50]}), flush=True)
    sys.stdin.read()  # until the bench closes the pipe
    from dashboard.models import Position
    from sqlalchemy import func
    with services.db.read() as s:
        print(json.dumps({"stored": s.scalar(select(func.count()).select_from(Position))}), flush=True)
    services.shutdown()


def trivial_server(port_q, own_group: bool = False) -> None:
    """A canned 200 for every request: the client's own ceiling."""
    import asyncio

    if own_group:
        os.setpgid(0, 0)  # its CPU time is counted by process group, like the servers'

    class P(asyncio.Protocol):
        def connection_made(self, t):  # noqa: ANN001
            self.t, self.buf = t, b""

        def data_received(self, d: bytes) -> None:
            self.buf += d
            while True:
                i = self.buf.find(b"\r\n\r\n")
                if i < 0:
                    return
                n = 0
                for line in self.buf[:i].split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        n = int(line[15:])
                if len(self.buf) < i + 4 + n:
                    return
                self.buf = self.buf[i + 4 + n:]
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async def run() -> None:
        srv = await asyncio.get_running_loop().create_server(P, "127.0.0.1", 0)
        port_q.put(srv.sockets[0].getsockname()[1])
        await srv.serve_forever()

    asyncio.run(run())


def city_requests(port: int, path: str, conn: int, conns: int, n: int, devices: list[str], points: list,
                  t_base: int) -> list[bytes]:
    """Connection ``conn``'s ``n`` requests: devices conn, conn + conns, …, each fix 10 s after that device's last."""
    out = []
    host = f"127.0.0.1:{port}"
    for k in range(n):
        d = conn + k * conns
        dev = devices[d % len(devices)]
        lat, lon = points[d % len(points)]
        q = f"id={dev}&lat={lat + (d % 97) * 1e-5:.6f}&lon={lon:.6f}&timestamp={t_base + (d // len(devices)) * 10}" \
            f"&speed=1.2&batt=80"
        if conn % 2:  # Traccar Client 10: a form body
            body = q.encode()
            out.append(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:        # OsmAnd / legacy Traccar: the query string
            out.append(f"GET {path}?{q} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return out


def load_process(a) -> dict:
    """One client process: ``conns`` keep-alive connections; closed loop (rate 0) or open loop at ``rate``/s."""
    import asyncio

    port, path, first, conns, total_conns, seconds, rate, devices, points, t_base = a
    per_conn = int(((rate or 20_000) / total_conns) * seconds) + 1  # closed loop: prepared for ≤ 20,000/s
    lat: list[float] = []
    codes: dict[int, int] = {}
    errors = [0]

    async def one(c: int, reqs: list[bytes], stop_at: float) -> None:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            errors[0] += 1
            return
        gap = total_conns / rate if rate else 0.0
        due = time.perf_counter() + (c % total_conns) * (gap / total_conns if rate else 0.0)
        for i in range(10**9):
            req = reqs[i % len(reqs)]
            now = time.perf_counter()
            if now >= stop_at:
                break
            if rate:
                if due > now:
                    await asyncio.sleep(due - now)
                t0, due = due, due + gap
            else:
                t0 = now
            try:
                w.write(req)
                head = await r.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        n = int(line[15:])
                if n:
                    await r.readexactly(n)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                errors[0] += 1
                w.close()
                try:
                    r, w = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    return
                continue
            lat.append(time.perf_counter() - t0)
            code = int(head[9:12])
            codes[code] = codes.get(code, 0) + 1
            if b"connection: close" in head.lower():
                w.close()
                r, w = await asyncio.open_connection("127.0.0.1", port)
        w.close()

    async def main() -> float:
        start = time.perf_counter()
        stop_at = start + seconds
        await asyncio.gather(*[one(first + c, city_requests(port, path, first + c, total_conns,
                                                             per_conn, devices, points, t_base), stop_at)
                               for c in range(conns)])
        return time.perf_counter() - start

    c0 = time.process_time()
    dt = asyncio.run(main())
    return {"n": len(lat), "seconds": dt, "lat": lat, "codes": codes, "errors": errors[0],
            "cpu_s": time.process_time() - c0}


def cpu_seconds(group: int | None) -> float:
    """User + system CPU time so far of every live process in process group ``group`` (the server and, for
    run.py prod, gunicorn's workers; Linux /proc), 0 where unknown."""
    if group is None:
        return 0.0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            f = stat.read_text().rsplit(")", 1)[1].split()
            if int(f[2]) == group:
                total += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def drive(pool, port: int, path: str, args, rate: float, devices: list[str], points: list, t_base: int,
          server_pid: int | None = None) -> dict:
    """One load phase; with ``server_pid`` also the server's CPU time per acknowledged fix (a figure the box's
    load does not bend: what a quiet core would take is about 1000 / that many fixes a second)."""
    per = args.conns // args.clients
    cpu0 = cpu_seconds(server_pid)
    res = pool.map(load_process, [(port, path, i * per, per, per * args.clients, args.seconds, rate, devices, points,
                                   t_base) for i in range(args.clients)])
    lat = sorted(x * 1000 for r in res for x in r["lat"])
    codes: dict[int, int] = {}
    for r in res:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    dt = max(r["seconds"] for r in res)
    ok = codes.get(200, 0)
    server_cpu = cpu_seconds(server_pid) - cpu0
    return {"fixes_per_s": ok / dt, "answers": len(lat), "ok": ok, "codes": codes,
            "server_cpu_ms_per_fix": server_cpu * 1000 / ok if ok and server_pid else None,
            "client_cpu_ms_per_request": sum(r["cpu_s"] for r in res) * 1000 / max(1, len(lat)),
            "errors": sum(r["errors"] for r in res), "seconds": dt, "offered": rate,
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99), "max_ms": lat[-1] if lat else 0}


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def fresh_db(url: str | None, tag: str) -> tuple[str | None, object]:
    """SQLite: None (the server makes its own file). PostgreSQL: a new database beside ``url``'s; a dropper."""
    if not url or not url.startswith("postgresql"):
        return None, lambda: None
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = f"gc_ingest_{tag}_{int(time.time())}"
    admin = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return u.set(database=name).render_as_string(hide_password=False), drop


def city_run(args) -> list[dict]:
    import subprocess

    ctx = mp.get_context("spawn")
    out = []
    devices = device_ids(args.devices)
    t_base = int(time.time()) - 10 * 86400
    with ctx.Pool(args.clients) as pool:
        q = ctx.Queue()
        triv = ctx.Process(target=trivial_server, args=(q, True), daemon=True)
        triv.start()
        tport = q.get(timeout=30)
        la = load_avg()
        ceiling = drive(pool, tport, "/osmand", args, 0, devices, [(34.27, 108.95)], t_base, triv.pid)
        triv.terminate()
        out.append({"tree": "-", "target": "trivial server (client ceiling)", "load": la, "closed": ceiling,
                    "open": None})
        trees = [("this", str(ROOT))] + [(f"compare{i}", t) for i, t in enumerate(args.compare or [])]
        for k, (name, root) in enumerate(trees):
            for target in args.targets.split(","):
                if target == "prod-dedicated" and name != "this":
                    continue  # run.py prod served no dedicated port before this tree
                db, drop = fresh_db(args.db, f"{k}{target.replace('-', '')[:6]}")
                cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--app-root", root,
                       "--target", target, "--devices", str(args.devices), "--raw-rows", str(args.raw_rows),
                       "--port", str(free_port())]
                if db:
                    cmd += ["--db", db]
                if target.startswith("prod") or target == "gevent-dedicated":
                    cmd += ["--workers", str(args.workers), "--port2", str(free_port())]
                srv = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
                                       start_new_session=True)
                try:
                    info = json.loads(srv.stdout.readline())
                    port, points = info["port"], [tuple(p) for p in info["points"]]
                    path = "/osmand" if target in ("main", "prod", "gevent") else "/"
                    if (target.startswith("prod") or target.startswith("gevent")) and not wait_listening(port, 180):
                        print(f"{name} {target}: the server did not listen within 180 s", flush=True)
                        continue
                    t_base += 20_000  # every phase: new fix times (nothing is a duplicate)
                    drive(pool, port, path, argparse.Namespace(**{**vars(args), "seconds": 3}), 200, devices,
                          points, t_base - 50)  # warm-up
                    la = load_avg()
                    closed = drive(pool, port, path, args, 0, devices, points, t_base, srv.pid)
                    t_base += 20_000
                    opened = drive(pool, port, path, args, args.rate, devices, points, t_base, srv.pid)
                    la2 = load_avg()
                    srv.stdin.close()
                    if target.startswith("prod") or target.startswith("gevent"):
                        stored = count_rows(info["db_url"])
                    else:
                        stored = json.loads(srv.stdout.readline())["stored"]
                finally:
                    try:
                        os.killpg(srv.pid, 9)  # gunicorn's workers too
                    except OSError:
                        pass
                    srv.wait()
                    time.sleep(1)
                    drop()
                out.append({"tree": name, "root": root, "commit": git_commit(root), "target": target, "db": info["db"],
                            "raw_rows_per_s": info["raw_rows_per_s"], "load": f"{la} → {la2}", "closed": closed,
                            "open": opened, "stored": stored})
                print(city_line(out[-1]), flush=True)
    return out


def wait_listening(port: int, timeout: float) -> bool:
    import socket

    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def count_rows(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    eng = create_engine(db_url)
    try:
        with eng.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM position")).scalar() or 0)
    finally:
        eng.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_commit(root: str) -> str:
    import subprocess

    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() + ("+" if subprocess.run(
                                  ["git", "-C", root, "status", "--porcelain", "--", "dashboard", "bench"],
                                  capture_output=True, text=True, timeout=10).stdout.strip() else "")
    except OSError:
        return "?"


def city_line(r: dict) -> str:
    def fmt(x: dict | None, label: str) -> str:
        if not x:
            return ""
        bad = {k: v for k, v in x["codes"].items() if k != 200}
        return (f"  {label}: {x['fixes_per_s']:,.0f} fixes/s acknowledged (p50 {x['p50_ms']:.0f} ms, "
                f"p95 {x['p95_ms']:.0f} ms, p99 {x['p99_ms']:.0f} ms, max {x['max_ms']:.0f} ms; "
                f"{x['answers']:,} answers in {x['seconds']:.1f} s; refused {bad or 0}; errors {x['errors']}; "
                + (f"server CPU {x['server_cpu_ms_per_fix']:.2f} ms/fix, " if x.get("server_cpu_ms_per_fix") else "")
                + f"client CPU {x['client_cpu_ms_per_request']:.2f} ms/request)")
    if r["tree"] == "-":
        return f"client ceiling, {r['target']} (load {r['load']}):\n" + fmt(r["closed"], "closed loop")
    head = (f"{r['tree']} ({r['commit']}), {r['target']} port, {r['db']}: raw insert {r['raw_rows_per_s']:,.0f} "
            f"rows/s; load {r['load']}; rows stored {r['stored']:,}")
    return "\n".join([head, fmt(r["closed"], "closed loop (most it takes)"),
                      fmt(r["open"], f"open loop at {r['open']['offered']:,.0f}/s")])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", help="database URL (default: a new SQLite file); PostgreSQL: a fresh database beside it "
                                "per server (dropped after)")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--conns", type=int, default=400, help="keep-alive connections in all (phones at once)")
    p.add_argument("--seconds", type=float, default=15.0, help="each load phase")
    p.add_argument("--rate", type=float, default=2000.0, help="the open loop's offered fixes/s")
    p.add_argument("--devices", type=int, default=20_000, help="registered devices besides the demo's 490")
    p.add_argument("--targets", default="main,dedicated",
                   help="main (python run.py --no-gevent's port: Werkzeug threads), gevent (python run.py's port), "
                        "dedicated (the dedicated port, in the bench's process), gevent-dedicated (python run.py "
                        "--osmand-port: the dedicated port beside the gevent server), prod "
                        "(run.py prod's port: gunicorn gevent), prod-dedicated (run.py prod --osmand-port)")
    p.add_argument("--compare", action="append", help="another tree (e.g. a worktree of the previous commit)")
    p.add_argument("--batch-api", action="store_true", help="the older in-process run (batch API, JSON arrays)")
    p.add_argument("--raw-rows", type=int, default=50_000)
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    # the server process (internal)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--app-root", default=str(ROOT), help=argparse.SUPPRESS)
    p.add_argument("--target", default="main", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--port2", type=int, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=2, help="prod targets: gunicorn workers (>1: PostgreSQL + Redis)")
    # --batch-api's options
    p.add_argument("--osmand-requests", type=int, default=1600, help="--batch-api: requests per client process")
    p.add_argument("--threads", type=int, default=16, help="--batch-api: concurrent /osmand senders per process")
    p.add_argument("--batches", type=int, default=50, help="--batch-api: batches per client")
    p.add_argument("--batch-size", type=int, default=100)
    args = p.parse_args()
    if args.serve:
        return serve_main(args)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"machine: {mp.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {load_avg()}")
    if args.batch_api:
        r = run(args)
        print(report(r))
        if args.json:
            print(json.dumps(r, indent=1))
        return
    print(f"{args.devices:,} devices + the demo's 490, {args.clients} client processes, {args.conns} keep-alive "
          f"connections, {args.seconds:.0f} s a phase", flush=True)
    res = city_run(args)
    print(city_line(res[0]))
    if args.json:
        for r in res:
            for k in ("closed", "open"):
                if r.get(k):
                    r[k] = {kk: vv for kk, vv in r[k].items()}
        print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
