"""Simulated camera streams: what a frame costs, and what N MJPEG tiles cost the server.

    python bench/bench_camera_streams.py [--tiles 4,16,48] [--seconds 8] [--fps 3]

1. render_frame: mean time and size of one 320×180 JPEG frame (name, grid, clock).
2. A real server (run.py --no-sim on a free port, its own SQLite DB) serving N concurrent
   /cameras/<code>/mjpeg viewers for a few seconds: frames delivered per second versus the
   target (N × fps), and the server process's CPU use (from /proc, user+system).
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_render(n: int = 300) -> tuple[float, int]:
    from dashboard.services.cameras import render_frame

    render_frame("CAM001", "西五路与吉庆巷口西北角", "兴乐社区第07网格")  # load the font
    t0 = time.perf_counter()
    size = 0
    for i in range(n):
        size += len(render_frame("CAM001", "西五路与吉庆巷口西北角", "兴乐社区第07网格", tick=i / 3))
    return (time.perf_counter() - t0) / n * 1000, size // n


def viewer(url: str, stop: threading.Event, counts: list[int], i: int) -> None:
    with requests.get(url, stream=True, timeout=10) as r:
        for chunk in r.iter_content(8192):
            counts[i] += chunk.count(b"--gcframe")
            if stop.is_set():
                break


def bench_server(tiles: list[int], seconds: float, fps: int) -> list[tuple[int, float, float, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="gc-bench-cam-"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(port), "--db",
                             f"sqlite:///{tmp / 'bench.db'}", "--no-sim", "--log-level", "WARNING"], cwd=ROOT,
                            env={**os.environ, "GC_DATA_DIR": str(tmp / "var")}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.25)
        codes = [c["code"] for c in requests.get(base + "/api/v1/cameras").json()["cameras"]]
        out = []
        for n in tiles:
            stop, counts = threading.Event(), [0] * n
            threads = [threading.Thread(target=viewer, args=(f"{base}/cameras/{codes[i % len(codes)]}/mjpeg?fps={fps}",
                                                             stop, counts, i), daemon=True) for i in range(n)]
            for t in threads:
                t.start()
            time.sleep(1.0)  # let every stream open
            c0, f0, t0 = cpu_seconds(proc.pid), sum(counts), time.perf_counter()
            time.sleep(seconds)
            c1, f1, t1 = cpu_seconds(proc.pid), sum(counts), time.perf_counter()
            stop.set()
            for t in threads:
                t.join(5)
            out.append((n, (f1 - f0) / (t1 - t0), n * fps, (c1 - c0) / (t1 - t0) * 100))
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiles", default="4,16,48")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--fps", type=int, default=3)
    a = ap.parse_args()
    ms, size = bench_render()
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    print(f"machine: nproc={os.cpu_count()} {cpu.group(1) if cpu else '?'}")
    print(f"render_frame: {ms:.2f} ms per 320x180 frame, {size / 1024:.1f} KiB JPEG "
          f"-> one core renders ~{1000 / ms:.0f} frames/s")
    print(f"{'tiles':>6} {'frames/s':>9} {'target':>7} {'server CPU %':>13} {'KiB/s out':>10}")
    for n, got, target, cpu_pct in bench_server([int(x) for x in a.tiles.split(",")], a.seconds, a.fps):
        print(f"{n:>6} {got:>9.1f} {target:>7} {cpu_pct:>13.1f} {got * size / 1024:>10.0f}")


if __name__ == "__main__":
    main()
