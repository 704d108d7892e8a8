"""Where a slow report goes on the city: the app in-process (Flask's test client) next to the city simulator,
each POST /api/v1/cases under cProfile; the profile of every report slower than ``--slow`` ms is written out.

    python run.py gen-city --db sqlite:////tmp/citywall/city.db
    python bench/city_report_profile.py --db /tmp/citywall/city.db --settle 200 --reports 150 --out /tmp/prof

The database is copied first (the simulator writes). Prints each slow report with its Server-Timing, then
p50 / p95 / max of all.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def copy_sqlite(src: Path, dst: Path) -> list[Path]:
    """Copy an SQLite file to ``dst`` for one run; a stopped run's ``-wal``/``-shm`` beside ``dst`` are removed
    first (replayed onto the fresh copy, they made it "malformed"). Returns those side files' paths."""
    side = [dst.with_name(dst.name + x) for x in ("-wal", "-shm")]
    for f in (dst, *side):
        f.unlink(missing_ok=True)
    shutil.copy(src, dst)
    return side


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a gen-city SQLite file")
    ap.add_argument("--settle", type=float, default=200, help="seconds for the shifts to start")
    ap.add_argument("--reports", type=int, default=150)
    ap.add_argument("--slow", type=float, default=120, help="profile written for reports slower than this (ms)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/city-report-profile"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "city.db"
    copy_sqlite(args.db, db)
    os.environ["GC_DEMO_HISTORY_DAYS"] = "0"
    from sqlalchemy import text

    from dashboard.config import Settings
    from server import build_server

    settings = Settings.from_env({"GC_ALLOWED_HOSTS": "*"}, db_url=f"sqlite:///{db}", data_dir=args.out / "var",
                                 simulate=True, sim_hour=10)
    app, services = build_server(settings)
    services.start_background()
    with services.db.engine.connect() as c:
        cat = c.execute(text("SELECT code FROM category WHERE active ORDER BY code LIMIT 1")).scalar_one()
        n = c.execute(text("SELECT count(*) FROM grid")).scalar_one()
        lat, lon = c.execute(text("SELECT centroid_lat, centroid_lon FROM grid WHERE id = :i"), {"i": n // 2}).one()
    client = app.test_client()
    client.get("/healthz")
    token = client.get_cookie("gc_csrf").value
    time.sleep(args.settle)
    times = []
    for i in range(args.reports):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        r = client.post("/api/v1/cases", json={"category_code": cat, "description": f"P-{i}", "lat": lat, "lon": lon,
                                               "onsite": False},
                        headers={"Idempotency-Key": uuid.uuid4().hex, "X-CSRF-Token": token})
        prof.disable()
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        if r.status_code != 201:
            print("status", r.status_code, r.get_data(as_text=True)[:200])
        if ms > args.slow:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(35)
            (args.out / f"slow_{i}_{int(ms)}ms.txt").write_text(buf.getvalue())
            print(f"slow {i}: {ms:.0f} ms {r.headers.get('Server-Timing')}", flush=True)
        time.sleep(1.0)
    times.sort()
    print(f"{len(times)} reports: p50 {times[len(times) // 2]:.0f} ms, p95 {times[int(len(times) * 0.95)]:.0f} ms, "
          f"max {times[-1]:.0f} ms; profiles in {args.out}")
    services.shutdown()
    os._exit(0)  # the simulator's thread


if __name__ == "__main__":
    main()
