"""How many live connections one box holds, and what they cost the people using it (issue 26).

Connects authenticated Socket.IO clients in steps — phone-like ones (a worker key each, joined to the worker's
room as /m does) plus ``--walls`` wall-like ones (display keys, the street room) — and prints per step:
connected, RSS per server process, ``/healthz`` p50/p95, a report's acknowledgement p95, a task pushed to one
phone (dispatch POST → the phone's socket frame, p95) and an event pushed to every wall (report POST → each
wall's frame, p95 and max).

The clients are raw Engine.IO websockets multiplexed by one selector thread, so the bench's own cost stays
small next to the server's.

    python bench/live_capacity.py                            # python run.py (SQLite), steps 250…5000
    python bench/live_capacity.py --no-gevent                # python run.py --no-gevent (Werkzeug threads)
    python bench/live_capacity.py --prod --workers 2 --threads 64   # run.py prod on PostgreSQL + Redis
    python bench/live_capacity.py --steps 100,200 --probes 5
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import REDIS_URL, LiveServer, fresh_pg_database, free_port  # noqa: E402

log = logging.getLogger("live_capacity")
LAT, LON = 34.2655, 108.9540  # inside the demo street


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def prepare(db_url: str, phones: int, walls: int) -> dict:
    """Migrate, load the demo street and make the keys: one worker key per phone, display keys, an admin key."""
    from sqlalchemy import select

    from dashboard.db import Database, migrate
    from dashboard.models import Worker
    from dashboard.services.apikeys import create_api_key
    from dashboard.services.importers import load_demo

    db = Database(db_url)
    migrate(db.engine)
    with db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
        worker_ids = list(s.scalars(select(Worker.id).order_by(Worker.id)))
        phone_keys = []
        for i in range(phones):
            wid = worker_ids[i % len(worker_ids)]
            phone_keys.append((wid, create_api_key(s, name=f"phone {i}", role="worker", worker_id=wid)[1]))
        wall_keys = [create_api_key(s, name=f"wall {i}", role="display")[1] for i in range(walls)]
        admin = create_api_key(s, name="bench admin", role="admin")[1]
    db.dispose()
    return {"phones": phone_keys, "walls": wall_keys, "admin": admin}


class Swarm:
    """Many Engine.IO websockets on one selector thread: answers pings, timestamps every frame by token."""

    def __init__(self, url: str) -> None:
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.socks: list[websocket.WebSocket] = []
        self.watch: dict[str, dict[int, float]] = {}  # token → {socket index: first time seen}
        self.stop = threading.Event()
        self.dropped = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def connect(self, key: str, join_worker: int | None = None, timeout: float = 10) -> int:
        ws = websocket.create_connection(self.ws_url, header=[f"Authorization: Bearer {key}"], timeout=timeout)
        if not ws.recv().startswith("0"):
            raise ConnectionError("no Engine.IO open packet")
        ws.send("40")
        if not ws.recv().startswith("40"):
            raise ConnectionError("Socket.IO connect refused")
        if join_worker is not None:
            ws.send("420" + json.dumps(["join_worker", {"worker_id": join_worker}]))
        ws.sock.setblocking(True)
        with self.lock:
            idx = len(self.socks)
            self.socks.append(ws)
            self.sel.register(ws.sock, selectors.EVENT_READ, idx)
        return idx

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                ready = self.sel.select(timeout=0.2)
            except (ValueError, OSError):
                continue
            for sk, _ in ready:
                idx = sk.data
                ws = self.socks[idx]
                try:
                    msg = ws.recv()
                except Exception:  # noqa: BLE001 — a closed socket leaves the swarm
                    self.dropped += 1
                    self.sel.unregister(sk.fileobj)
                    continue
                now = time.perf_counter()
                if msg == "2":
                    ws.send("3")
                    continue
                if not isinstance(msg, str) or not msg.startswith("42"):
                    continue
                with self.lock:
                    for token, seen in self.watch.items():
                        if token in msg and idx not in seen:
                            seen[idx] = now

    def expect(self, token: str) -> dict[int, float]:
        with self.lock:
            self.watch[token] = {}
            return self.watch[token]

    def close(self) -> None:
        self.stop.set()
        for ws in self.socks:
            try:
                ws.close(timeout=0.1)
            except Exception:  # noqa: BLE001
                pass


def rss_mb(root_pid: int) -> list[float]:
    """RSS (MB) of the server process and its children."""
    out = []
    for pid in [root_pid] + children(root_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


def children(pid: int) -> list[int]:
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def measure(url: str, keys: dict, swarm: Swarm, phone_idx: list[tuple[int, int]], wall_idx: list[int],
            probes: int) -> dict:
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    health = []
    for _ in range(20):
        t0 = time.perf_counter()
        try:
            requests.get(url + "/healthz", timeout=10)
            health.append((time.perf_counter() - t0) * 1000)
        except requests.RequestException:
            health.append(10_000.0)
        time.sleep(0.02)
    acks, task, wall, dispatch = [], [], [], []
    for i in range(probes):
        token = f"LC-{uuid.uuid4().hex[:10]}"
        seen = swarm.expect(token)
        t0 = time.perf_counter()
        try:
            r = requests.post(url + "/api/v1/cases", headers={**admin, "Idempotency-Key": token}, timeout=30,
                              json={"category_code": "0101", "description": token, "lat": LAT, "lon": LON})
        except requests.RequestException as exc:  # past the ceiling: the report never got an answer
            acks.append(30_000.0)
            log.warning("report unanswered: %s", str(exc)[:120])
            continue
        acks.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 201:
            log.warning("report refused: %s %s", r.status_code, r.text[:200])
            continue
        time.sleep(1.0)
        wall += [(seen[w] - t0) * 1000 for w in wall_idx if w in seen]
        wall += [10_000.0 for w in wall_idx if w not in seen]
        if phone_idx:  # dispatch the case to one phone's worker and wait for that phone's frame
            idx, wid = phone_idx[(i * 7919) % len(phone_idx)]
            case_id = r.json()["id"]
            tseen = swarm.expect(f'"id": {case_id}')
            tseen2 = swarm.expect(f'"id":{case_id}')
            t1 = time.perf_counter()
            try:
                d = requests.post(f"{url}/api/v1/cases/{case_id}/actions/dispatch", headers=admin, timeout=30,
                                  json={"worker_id": wid})
            except requests.RequestException:
                task.append(30_000.0)
                continue
            dispatch.append((time.perf_counter() - t1) * 1000)  # the dispatch's own answer, of the task push
            deadline = time.perf_counter() + 5
            while time.perf_counter() < deadline and idx not in tseen and idx not in tseen2:
                time.sleep(0.005)
            got = tseen.get(idx) or tseen2.get(idx)
            task.append(((got - t1) * 1000) if got and d.ok else 10_000.0)
    return {"healthz_p50": pct(health, 0.5), "healthz_p95": pct(health, 0.95), "ack_p95": pct(acks, 0.95),
            "task_p50": pct(task, 0.5), "task_p95": pct(task, 0.95), "task_max": max(task) if task else None,
            "dispatch_p50": pct(dispatch, 0.5), "dispatch_p95": pct(dispatch, 0.95),
            "wall_p95": pct(wall, 0.95), "wall_max": max(wall) if wall else None}


def start_server(args, tmp: Path, db_url: str):
    env = {"GC_SOCKET_PER_ADDR": "off", "GC_SOCKET_PER_KEY": "off", "GC_SOCKET_MAX": "off",
           "GC_RATE_LOGIN": "off"}
    if not args.prod:
        extra = ("--no-gevent",) if args.no_gevent else ()
        srv = LiveServer(tmp, "--no-sim", *extra, env=env, db_url=db_url).start(timeout=180)
        return srv.url, srv.proc, lambda: srv.stop()
    port = free_port()
    env.update({"GC_PRODUCTION": "1", "GC_SECRET_KEY": uuid.uuid4().hex * 2, "GC_REDIS_URL": REDIS_URL,
                "GC_REDIS_CHANNEL": f"lc-{uuid.uuid4().hex[:6]}", "GC_ALLOWED_HOSTS": f"127.0.0.1:{port}",
                "GC_DATA_DIR": str(tmp / "var")})
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--no-sim", "--port", str(port), "--db", db_url,
                             "prod", "--workers", str(args.workers), "--threads", str(args.threads),
                             "--worker-class", args.worker_class], cwd=ROOT,
                            env={**os.environ, **env}, stdout=open(tmp / "prod.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if (tmp / "prod.log").read_text(errors="replace").count("worker ready") >= args.workers:
            break
        time.sleep(0.5)

    def stop() -> None:
        os.killpg(proc.pid, signal.SIGQUIT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return url, proc, stop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prod", action="store_true", help="run.py prod on PostgreSQL + Redis (else python run.py)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--worker-class", default="gthread", choices=("gthread", "gevent"))
    ap.add_argument("--no-gevent", action="store_true", help="python run.py --no-gevent (Werkzeug threads; by "
                                                                 "default python run.py serves on gevent)")
    ap.add_argument("--steps", default="250,500,1000,2000,3000,5000")
    ap.add_argument("--walls", type=int, default=20)
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--connect-timeout", type=float, default=10)
    ap.add_argument("--parallel", type=int, default=16, help="connects in flight at once")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    steps = [int(x) for x in args.steps.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="livecap-"))
    drop = None
    if args.prod:
        db_url, drop = fresh_pg_database()
    else:
        db_url = f"sqlite:///{tmp / 'live.db'}"
    keys = prepare(db_url, max(steps) * 2, args.walls)  # spares for failed connects
    url, proc, stop = start_server(args, tmp, db_url)
    swarm = Swarm(url)
    rows = []
    try:
        wall_idx = [swarm.connect(k, timeout=args.connect_timeout) for k in keys["walls"]]
        phone_idx: list[tuple[int, int]] = []
        failed_total = 0
        for target in steps:
            failed, t0 = 0, time.perf_counter()
            todo = keys["phones"][len(phone_idx) + failed_total:target + failed_total]

            def one(wk: tuple[int, str]):
                try:
                    return swarm.connect(wk[1], join_worker=wk[0], timeout=args.connect_timeout), wk[0]
                except Exception as exc:  # noqa: BLE001 — past the ceiling: counted, the step goes on
                    log.info("connect failed: %s", str(exc)[:120])
                    return None

            with ThreadPoolExecutor(args.parallel) as pool:
                for got in pool.map(one, todo):
                    if got is None:
                        failed += 1
                    else:
                        phone_idx.append(got)
            failed_total += failed
            took = time.perf_counter() - t0
            time.sleep(2)
            m = measure(url, keys, swarm, phone_idx, wall_idx, args.probes)
            rss = rss_mb(proc.pid)
            row = {"target": target, "phones": len(phone_idx) - swarm.dropped, "walls": len(wall_idx),
                   "failed": failed, "connect_s": round(took, 1), "rss_mb": [round(x) for x in rss], **m}
            rows.append(row)
            fmt = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
            print(json.dumps(fmt), flush=True)
            if failed > len(todo) // 10:
                print(f"ceiling: {len(phone_idx)} phones connected; step {target} stopped after {failed} failures",
                      flush=True)
                break
    finally:
        swarm.close()
        stop()
        if drop:
            try:
                drop()
            except Exception:  # noqa: BLE001
                pass
    print("\n| phones | walls | RSS MB (per process) | /healthz p50 / p95 ms | ack p95 ms | task push p50 / p95 / max ms "
          "(of it the dispatch's answer p50 / p95) | wall push p95 / max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['phones']} | {r['walls']} | {' + '.join(str(x) for x in r['rss_mb'])} | "
              f"{_f(r['healthz_p50'])} / {_f(r['healthz_p95'])} | {_f(r['ack_p95'])} | {_f(r.get('task_p50'))} / {_f(r['task_p95'])} / "
              f"{_f(r.get('task_max'))} ({_f(r.get('dispatch_p50'))} / {_f(r.get('dispatch_p95'))}) | "
              f"{_f(r['wall_p95'])} / {_f(r['wall_max'])} |")


def _f(v) -> str:  # noqa: ANN001
    return "—" if v is None else f"{v:.0f}"


if __name__ == "__main__":
    main()
