"""Closed-loop indicators at scale: bulk (two queries + pandas) against a query-per-grid loop.

    python bench/indicators.py [--cases 100000] [--days 90] [--db sqlite|postgres]

Builds the demo street (301 grids, 490 workers) in a fresh database, inserts ``--cases``
synthetic cases over ``--days`` days (70 % dispatched with an SLA deadline on the working
calendar, 15 % of those reworked once, 30 % handled on the spot, 3 % void) with their
approve/reject timeline rows, then times ``compute_indicators`` per level for a 30-day and
the full window, and a naive loop that asks the database four counts per grid.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.config import Settings  # noqa: E402
from dashboard.db import migrate  # noqa: E402
from dashboard.models import Case, CaseLog, Category, Grid, Worker  # noqa: E402
from dashboard.services.importers import load_demo  # noqa: E402
from dashboard.services.indicators import compute_indicators  # noqa: E402
from dashboard.timeutil import SHANGHAI  # noqa: E402


def populate(services, n: int, days: int, seed: int = 7) -> tuple[datetime, datetime]:
    rnd = random.Random(seed)
    cal = services.calendar
    end = datetime(2026, 11, 28, tzinfo=SHANGHAI)
    start = end - timedelta(days=days)
    with services.db.read() as s:
        grids = s.execute(select(Grid.id, Grid.community_id, Grid.centroid_lat, Grid.centroid_lon)).all()
        workers = s.execute(select(Worker.id, Worker.grid_id)).all()
        cats = s.execute(select(Category.code, Category.time_limit_hours)).all()
    by_grid: dict[int, list[int]] = {}
    for wid, gid in workers:
        by_grid.setdefault(gid, []).append(wid)
    cases, logs = [], []
    for i in range(n):
        gid, comm, lat, lon = rnd.choice(grids)
        code, limit = rnd.choice(cats)
        wid = rnd.choice(by_grid.get(gid) or [workers[0][0]])
        created = start + timedelta(seconds=rnd.uniform(0, days * 86400))
        row = dict(id=i + 1, code=f"B{i:08d}", category_code=code, grid_id=gid, community_id=comm, lat=lat, lon=lon,
                   reporter_worker_id=wid, created_at=created, updated_at=created, state="reported",
                   handled_onsite=False, rework_count=0, priority=3, level="grid", outside=False, source="app",
                   description="", address="")
        u = rnd.random()
        if u < 0.30:
            row.update(state="closed", handled_onsite=True, closed_at=created)
        elif u < 0.33:
            row.update(state="void")
        elif u < 0.95:
            disp = created + timedelta(minutes=rnd.uniform(5, 120))
            due = cal.add_working_hours(disp, limit)
            row.update(state="dispatched", assigned_worker_id=wid, dispatched_at=disp, sla_due_at=due)
            if rnd.random() < 0.85:
                close = disp + (due - disp) * rnd.uniform(0.2, 1.4)
                if rnd.random() < 0.15:
                    logs.append(dict(case_id=i + 1, action="reject", at=close - timedelta(hours=1), actor="b"))
                    row["rework_count"] = 1
                logs.append(dict(case_id=i + 1, action="approve", at=close, actor="b"))
                row.update(state="closed", closed_at=close)
        cases.append(row)
    with services.db.write() as s:
        for i in range(0, len(cases), 5000):
            s.execute(insert(Case), cases[i:i + 5000])
        for i in range(0, len(logs), 5000):
            s.execute(insert(CaseLog), [dict(note="", **r) for r in logs[i:i + 5000]])
    return start, end


def naive_grid_loop(services, start, end) -> int:
    """Four count queries per grid (what the bulk version replaces)."""
    n = 0
    with services.db.read() as s:
        for (gid,) in s.execute(select(Grid.id)).all():
            base = select(func.count()).select_from(Case).where(Case.grid_id == gid, Case.state != "void")
            s.scalar(base.where(Case.sla_due_at >= start, Case.sla_due_at < end))
            s.scalar(base.where(Case.sla_due_at >= start, Case.sla_due_at < end, Case.closed_at < end))
            s.scalar(base.where(Case.created_at >= start, Case.created_at < end))
            s.scalar(base.where(Case.created_at >= start, Case.created_at < end, Case.handled_onsite.is_(True)))
            n += 4
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gc_bench_ind_"))
    drop = None
    if args.db == "postgres":
        from tests.conftest import fresh_pg_database

        url, drop = fresh_pg_database()
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    app, services = create_app(Settings.from_env({}, db_url=url, data_dir=tmp, simulate=False))
    try:
        migrate(services.db.engine)
        with services.db.write() as s:
            load_demo(s, ROOT / "data" / "xiyilu")
        t = time.perf_counter()
        start, end = populate(services, args.cases, args.days)
        print(f"database:   {args.db}; {args.cases:,} cases over {args.days} days inserted in "
              f"{time.perf_counter() - t:.1f} s")
        windows = [("last 30 days", end - timedelta(days=30), end), (f"all {args.days} days", start, end)]
        for label, a, b in windows:
            for level in ("street", "community", "grid", "worker", "category"):
                t = time.perf_counter()
                with services.db.read() as s:
                    rows = compute_indicators(s, level=level, start=a, end=b, calendar=services.calendar)
                dt = time.perf_counter() - t
                due = sum(r["due"] for r in rows)
                print(f"{label:>13} {level:>9}: {dt * 1000:7.0f} ms, {len(rows):4d} rows, due {due:,}")
            t = time.perf_counter()
            q = naive_grid_loop(services, a, b)
            print(f"{label:>13} naive loop: {(time.perf_counter() - t) * 1000:7.0f} ms for {q} count queries "
                  f"(4 counts per grid, no rates or handling times)")
    finally:
        services.shutdown()
        if drop:
            drop()


if __name__ == "__main__":
    main()
