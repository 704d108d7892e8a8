"""Bench: the briefing for one day at city scale (10,000 grids, 20,000 workers, 1,000,000 cases).

    python bench/briefing_city.py                       # PostgreSQL (a fresh database on the local server)
    python bench/briefing_city.py --db sqlite:///var/city.db
    python bench/briefing_city.py --cases 100000        # smaller, for a quick look

The city comes from dashboard/demodata/city.py (cases over a year up to yesterday). On top of it
this script adds one day of GPS fixes for the briefed day (``--fixes-per-worker`` per worker,
bulk-inserted) so coverage and worker activity have real volume, then fills the per-day rollup
``position_day`` for that day with ``services.position_day.backfill`` (what ingest keeps up to date
batch by batch; it walks the fixes for the mileage too, and a kept city without mileage gets it this way). Server time = the ``briefing()`` call (all SQL + pandas), median of ``--runs`` runs
after one warm-up, uncached (the headline). Also printed: the same briefing served from
``BriefingCache`` (a past day, unchanged), and the old GROUP BY over the day's fixes against the rollup read.
"""
from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.db import Database, migrate  # noqa: E402
from dashboard.models import Position  # noqa: E402
from dashboard.demodata.city import generate_city  # noqa: E402
from dashboard.services.briefing import briefing  # noqa: E402
from dashboard.services.briefing_cache import BriefingCache  # noqa: E402
from dashboard.services.position_day import backfill, day_rollup  # noqa: E402
from dashboard.services.replay import replay  # noqa: E402
from dashboard.timeutil import local_day_bounds, local_today  # noqa: E402
from dashboard.workcal import WorkCalendar  # noqa: E402

log = logging.getLogger("bench")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def fresh_pg() -> tuple[str, callable]:
    import psycopg

    name = f"gc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def add_fixes(db: Database, day, per_worker: int, seed: int = 1) -> int:
    """One day of fixes: each worker walks near its grid's centroid during the day shift (bulk insert)."""
    rng = np.random.default_rng(seed)
    with db.engine.connect() as conn:
        w = pd.read_sql("SELECT w.id, g.id AS grid_id, g.centroid_lat, g.centroid_lon FROM worker w "
                        "JOIN grid g ON g.id = w.grid_id", conn)
    start, _ = local_day_bounds(day)
    n = len(w) * per_worker
    idx = np.repeat(np.arange(len(w)), per_worker)
    secs = 8 * 3600 + np.sort(rng.integers(0, 9 * 3600, n))
    df = pd.DataFrame({
        "worker_id": w["id"].values[idx],
        "fix_time": pd.Timestamp(start).tz_convert(None) + pd.to_timedelta(secs + np.arange(n) % per_worker, unit="s"),
        "received_at": pd.Timestamp(start).tz_convert(None) + pd.to_timedelta(secs, unit="s"),
        "lat": w["centroid_lat"].values[idx] + rng.normal(0, 3e-4, n),
        "lon": w["centroid_lon"].values[idx] + rng.normal(0, 3e-4, n),
        "grid_id": np.where(rng.random(n) < 0.9, w["grid_id"].values[idx], w["grid_id"].values[idx] % 10000 + 1),
        "outside": False, "source": "app"})
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            buf = io.StringIO()
            df.to_csv(buf, index=False, header=False)
            buf.seek(0)
            cols = ",".join(df.columns)
            with conn.connection.cursor() as cur, cur.copy(f"COPY position ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
                while chunk := buf.read(1 << 20):
                    cp.write(chunk)
            conn.exec_driver_sql("ANALYZE position")
        else:
            df["fix_time"] = df["fix_time"].astype(str)
            df["received_at"] = df["received_at"].astype(str)
            conn.connection.executemany(
                f"INSERT INTO position ({','.join(df.columns)}) VALUES ({','.join('?' * len(df.columns))})",
                df.itertuples(index=False, name=None))
            conn.exec_driver_sql("ANALYZE")
    return n


def timed(fn, runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up (plans, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="database URL (default: a fresh PostgreSQL database, dropped afterwards)")
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=20_000)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--fixes-per-worker", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the generated PostgreSQL database")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    drop = None
    url = args.db
    if url is None:
        url, drop = fresh_pg()
    db = Database(url)
    try:
        migrate(db.engine)
        day = local_today() - timedelta(days=1)  # the city's cases run up to yesterday
        with db.engine.connect() as conn:
            existing = conn.exec_driver_sql("SELECT count(*) FROM grid").scalar()
        if existing:  # --db pointing at a city made by an earlier run (--keep): time only
            with db.engine.connect() as conn:
                counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                          for t in ("grid", "worker", "case_file")}
                n_fix = conn.exec_driver_sql("SELECT count(*) FROM position").scalar()
                day = conn.exec_driver_sql("SELECT max(fix_time) FROM position").scalar()
            day = (pd.Timestamp(day).tz_localize("UTC").tz_convert("Asia/Shanghai").date() if day else day)
            t_gen = t_fix = 0.0
            with db.read() as s:
                rows = day_rollup(s, day)
            if not rows or not any(r[3] for r in rows):  # kept before the rollup (or its mileage) existed
                t0 = time.perf_counter()
                with db.write() as s:
                    backfill(s, day, day)
                log.info("rollup (with mileage) back-filled in %.1f s", time.perf_counter() - t0)
        else:
            t0 = time.perf_counter()
            counts = generate_city(db.engine, grids=args.grids, workers=args.workers, cases=args.cases)
            t_gen = time.perf_counter() - t0
            t0 = time.perf_counter()
            n_fix = add_fixes(db, day, args.fixes_per_worker)
            t_fix = time.perf_counter() - t0
            t0 = time.perf_counter()
            with db.write() as s:
                backfill(s, day, day)
            log.info("rollup back-filled in %.1f s", time.perf_counter() - t0)
            if drop and args.keep:
                print(f"kept the city database: {url}")
        cal = WorkCalendar.official()

        def street():
            with db.read() as s:
                return briefing(s, day=day, calendar=cal)

        def community():
            with db.read() as s:
                return briefing(s, day=day, community_id=1, calendar=cal)

        def day_replay():
            with db.read() as s:
                return replay(s, day=day, community_id=1)

        def group_by_fixes():  # what coverage/activity used to run
            start, end = local_day_bounds(day)
            with db.read() as s:
                return s.execute(select(Position.worker_id, Position.grid_id, func.count()).where(
                    Position.fix_time >= start, Position.fix_time < end).group_by(
                    Position.worker_id, Position.grid_id)).all()

        def rollup():
            with db.read() as s:
                return day_rollup(s, day)

        cache = BriefingCache()

        def street_cached():
            with db.read() as s:
                return cache.get(s, day=day, calendar=cal)

        b = street()
        med_g, _ = timed(group_by_fixes, args.runs)
        med_u, _ = timed(rollup, args.runs)
        med, all_ = timed(street, args.runs)
        med_c, _ = timed(community, args.runs)
        med_r, _ = timed(day_replay, args.runs)
        med_k, _ = timed(street_cached, args.runs)  # the warm-up fills the cache; the runs are hits
        k = {r["key"]: r["value"] for r in b["kpis"]}
        print(f"backend: {db.engine.dialect.name}; city {counts}; fixes for {day}: {n_fix:,}")
        print(f"generate city: {t_gen:.1f} s; add fixes: {t_fix:.1f} s")
        print(f"day {day}: reported {k['reported']}, closed {k['closed']}, overdue {k['overdue']}, "
              f"coverage {b['coverage']['any']}/{b['coverage']['grids']}, active workers {b['workers']['active']}, "
              f"patrol km {b['workers']['patrol_km']:,}")
        print(f"briefing (street, {args.runs} runs): median {med * 1000:.0f} ms; all "
              + ", ".join(f"{x * 1000:.0f}" for x in all_) + " ms; target < 1000 ms: "
              + ("met" if med < 1.0 else "NOT met"))
        print(f"briefing (one community): median {med_c * 1000:.0f} ms")
        print(f"briefing (street, past day served from BriefingCache, fingerprint check only): "
              f"median {med_k * 1000:.1f} ms (hits {cache.hits}, misses {cache.misses}) — not the headline")
        print(f"day's fixes per worker x grid: GROUP BY over position {med_g * 1000:.0f} ms; "
              f"position_day rollup {med_u * 1000:.0f} ms")
        print(f"replay (one community, no case timeline in the generated city): median {med_r * 1000:.0f} ms")
    finally:
        db.dispose()
        if drop and not args.keep:
            drop()


if __name__ == "__main__":
    main()
