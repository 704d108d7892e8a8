"""The server's part of the wall's ticker time: report POST → its case event at ten socket clients, no browser.

The same server and load as bench/wall_latency.py (``python run.py``, simulator at --sim-speed, --sim-hour 15:
476 of 490 workers sending a fix every ~5 s, cases flowing), but the walls are Python clients speaking GCLive's
protocol (tests/utils/wall_client.py: snapshot, websocket, batches in seq order, gap → /api/v1/events), so no
browser competes with the server for the CPU. Every ``--every`` s a case with a unique token is POSTed; the time
its event is applied at each client is taken against the POST start (same machine, same clock).

Compare with wall_latency's "POST → message" on the measured wall: the difference is what a browser page
(and ten browsers sharing the server's CPUs) add on top of the server.

    python bench/push_latency.py                   # 3 minutes, 10 clients
    python bench/push_latency.py --clients 50 --duration 600
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.wall_latency import _category, _inside, cpu_percent, cpu_ticks, stamped_run, summary  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.utils.wall_client import WallClient  # noqa: E402

log = logging.getLogger("push_latency")


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pushbench-"))
    srv = LiveServer(tmp, "--sim-speed", str(args.sim_speed), "--sim-hour", str(args.sim_hour)).start(timeout=90)
    log.info("server %s (sim speed %s, hour %s)", srv.url, args.sim_speed, args.sim_hour)
    seen: list[dict[str, float]] = [{} for _ in range(args.clients)]
    lock = threading.Lock()

    def watcher(i: int):
        def on_event(m: dict, t: float, pushed: bool) -> None:
            if m.get("type") != "case" or not pushed:
                return
            desc = ((m.get("payload") or {}).get("case") or {}).get("description") or ""
            if desc.startswith("P-"):
                with lock:
                    seen[i].setdefault(desc, t * 1000)
        return on_event

    clients = []
    try:
        clients = [WallClient(srv.url, on_event=watcher(i), keep_events=False).start() for i in range(args.clients)]
        grids = requests.get(srv.url + "/api/v1/grids", timeout=10).json()["features"]
        cat = _category(srv.db_url)
        time.sleep(args.warmup)
        probes: list[tuple[str, float, float]] = []
        http = requests.Session()
        cpu0, t_cpu0 = cpu_ticks(srv.proc.pid), time.time()
        t_end = time.time() + args.duration
        while time.time() < t_end:
            token = f"P-{uuid.uuid4().hex[:8]}"
            lon, lat = _inside(grids[len(probes) * 7 % len(grids)]["geometry"])
            t0 = time.time() * 1000
            r = http.post(srv.url + "/api/v1/cases", json={"category_code": cat, "description": token, "lat": lat,
                                                           "lon": lon},
                          headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=30)
            r.raise_for_status()
            probes.append((token, t0, time.time() * 1000 - t0))
            time.sleep(args.every)
        cpu = cpu_percent(cpu0, cpu_ticks(srv.proc.pid), time.time() - t_cpu0)
        time.sleep(2)
        first = [seen[0][tok] - t0 for tok, t0, _ in probes if tok in seen[0]]
        every = [max(s[tok] for s in seen) - t0 for tok, t0, _ in probes if all(tok in s for s in seen)]
        missing = sum(1 for tok, *_ in probes for s in seen if tok not in s)
        return {"clients": args.clients, "duration_s": args.duration, "sim_speed": args.sim_speed,
                "probes": len(probes), "post_ack_ms": summary([a for *_, a in probes]),
                "post_to_event_first_client_ms": summary(first), "post_to_event_last_client_ms": summary(every),
                "missing": missing, "gaps": sum(c.gaps for c in clients), "cpu_pct": cpu}
    finally:
        for c in clients:
            c.close()
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10, help="socket clients (walls) connected (default 10)")
    ap.add_argument("--duration", type=float, default=180, help="measured seconds (default 180)")
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--every", type=float, default=1.0, help="seconds between probe reports")
    ap.add_argument("--sim-speed", type=float, default=1.5)
    ap.add_argument("--sim-hour", type=float, default=15)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    res = stamped_run(run, args)

    def f(d: dict) -> str:
        return " / ".join("-" if d[k] is None else f"{d[k]:.0f}" for k in ("p50", "p95", "p99", "max"))
    print(f"\n{res['clients']} socket clients, {res['probes']} probes; ms p50 / p95 / p99 / max")
    print(f"POST acknowledged                       {f(res['post_ack_ms'])}")
    print(f"POST → event applied, first client      {f(res['post_to_event_first_client_ms'])}")
    print(f"POST → event applied, last of all       {f(res['post_to_event_last_client_ms'])}")
    print(f"missing {res['missing']}, seq gaps {res['gaps']}, server CPU % of a core {res['cpu_pct']}")


if __name__ == "__main__":
    main()
