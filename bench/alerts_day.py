"""Calm alerts: one simulated hour of the demo street at --sim-speed 60 (issue 27 item 1, "Done when").

The demo street as ``python run.py`` starts it (the street, its last week of cases, fixes and patrols), then the
simulator (workers on their shifts at ``--sim-hour``, cases at the usual rate × speed, the planted anomalies of
dashboard/simulator_anomalies.py) ticks once per clock second for ``--minutes`` simulated minutes, and the alert
rules run as the scheduler runs them at that speed (every max(2 s, 30 s / speed), rule minutes are simulated
minutes, written in bounded batches). The clock is stepped, not waited for: the run takes as long as the work.

Prints: alerts raised (new alert rows), open at the peak (the most open at any rules pass: what a wall shows),
merged (repeats folded into an open alert + single alerts merged into community/street ones), the open alerts at
the end with their titles, and how long the rules passes took (median, max).

    python bench/alerts_day.py                       # 60 simulated minutes at 10:00, speed 60
    python bench/alerts_day.py --sim-hour 23         # at night: the planted door held open shows too
    python bench/alerts_day.py --history 0           # no last week: the first pass has no overdue history
    python bench/alerts_day.py --storm 5000          # + a report's acknowledgement during a rules pass over
                                                     #   that many overdue cases (issue 26 item 5)
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(db_url: str | None, tmp: Path, history: int):
    from dashboard.app import create_app
    from dashboard.config import Settings
    from dashboard.db import migrate
    from dashboard.demodata.recent import seed_recent
    from dashboard.services.importers import load_demo
    from dashboard.timeutil import local_today

    settings = Settings.from_env({}, db_url=db_url or f"sqlite:///{tmp / 'alerts_day.db'}", data_dir=tmp / "var",
                                 simulate=False)
    app, services = create_app(settings)
    migrate(services.db.engine)
    today = local_today()
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu", end_on=today - timedelta(days=1))
    services.reload_grids()
    for back in range(history, 0, -1):
        with services.db.write() as s:
            seed_recent(s, today=today, only=today - timedelta(days=back), calendar=services.calendar)
    return app, services


def open_alerts(services) -> list:
    from sqlalchemy import select

    from dashboard.models import Alert

    with services.db.read() as s:
        return list(s.scalars(select(Alert).where(Alert.state != "resolved", Alert.channel == "actual")
                              .order_by(Alert.id)))


def day(services, args) -> dict:
    from sqlalchemy import func, select

    from dashboard.models import Alert
    from dashboard.services.rules import RuleConfig, run_pass
    from dashboard.simulator import Simulator
    from dashboard.timeutil import utcnow

    cfg = RuleConfig(time_scale=args.speed)
    every = max(2.0, cfg.interval_s / cfg.time_scale)
    with services.db.read() as s:
        sim = Simulator.from_db(s, seed=args.seed, speed=args.speed, hour=args.sim_hour)
        before = s.scalar(select(func.count()).select_from(Alert))
    t0 = utcnow()
    pass_s, peak, merged, created, last_rules = [], 0, 0, 0, -every
    seconds = int(args.minutes * 60 / args.speed)
    first = None
    for i in range(seconds + 1):
        now = t0 + timedelta(seconds=i)
        sim.apply(sim.plan(now), db=services.db, locator=services.locator, calendar=services.calendar, now=now)
        if i - last_rules >= every or i == seconds:
            last_rules = i
            t = time.perf_counter()
            res = run_pass(services.db, now=now, calendar=services.calendar, config=cfg)
            pass_s.append(time.perf_counter() - t)
            merged += res["merged"]
            created += sum(v for k, v in res.items() if k not in ("merged", "cleared", "cap_expired") and v > 0)
            n_open = len(open_alerts(services))
            if first is None:
                first = (n_open, res)
            peak = max(peak, n_open)
    with services.db.read() as s:
        raised = s.scalar(select(func.count()).select_from(Alert)) - before
    return {"raised": raised, "peak": peak, "merged": merged, "first": first, "passes": pass_s,
            "planted": sim.planted.log, "open": open_alerts(services)}


def storm(app, services, n: int) -> dict:
    """``n`` dispatched cases past their deadline (an overdue storm), then a rules pass while a report is posted
    every few ms: the report's acknowledgement time."""
    from dashboard.models import Case, Category, Grid
    from dashboard.services.cases import CaseReport, report_case, transition
    from dashboard.services.rules import RuleConfig, run_pass
    from dashboard.timeutil import utcnow
    from sqlalchemy import select

    now = utcnow()
    t0 = now - timedelta(days=3)
    with services.db.read() as s:
        grids = [(g.centroid_lat, g.centroid_lon) for g in s.scalars(select(Grid).order_by(Grid.id))]
        cat = s.scalar(select(Category.code).order_by(Category.time_limit_hours).limit(1))
        worker = s.scalar(select(Case.assigned_worker_id).where(Case.assigned_worker_id.is_not(None)).limit(1)) or 1
    for start in range(0, n, 500):
        with services.db.write(bulk=True) as s:
            for i in range(start, min(n, start + 500)):
                lat, lon = grids[i % len(grids)]
                c, _ = report_case(s, CaseReport(category_code=cat, lat=lat, lon=lon, description="积压"),
                                   locator=services.locator, now=t0)
                transition(s, c, "dispatch", actor="bench", worker_id=worker, calendar=services.calendar, now=t0)
    client = app.test_client()
    from tests.utils.page_client import PageClient

    app.test_client_class = PageClient
    client = app.test_client()
    done, res, lat_ms = threading.Event(), {}, []

    def background():
        t = time.perf_counter()
        res.update(run_pass(services.db, now=now, calendar=services.calendar, config=RuleConfig()))
        res["seconds"] = time.perf_counter() - t
        done.set()

    th = threading.Thread(target=background)
    th.start()
    lat, lon = grids[0]
    while not done.is_set():
        t = time.perf_counter()
        r = client.post("/api/v1/cases", json={"category_code": cat, "lat": lat, "lon": lon, "description": "巡查"})
        lat_ms.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 201, r.get_json()
        time.sleep(0.02)
    th.join()
    return {"pass": res, "reports": len(lat_ms), "p50": statistics.median(lat_ms) if lat_ms else None,
            "p95": statistics.quantiles(lat_ms, n=20)[-1] if len(lat_ms) >= 20 else max(lat_ms or [0]),
            "open": len(open_alerts(services))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60, help="simulated minutes (default 60)")
    ap.add_argument("--speed", type=float, default=60, help="--sim-speed (default 60)")
    ap.add_argument("--sim-hour", type=float, default=10, help="the simulated local hour (default 10)")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--history", type=int, default=8, help="days of demo history written first (default 8)")
    ap.add_argument("--storm", type=int, default=0, help="then an overdue storm of this many cases")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="alerts-day-"))
    t = time.perf_counter()
    app, services = build(args.db, tmp, args.history)
    print(f"demo street with {args.history} days of history in {time.perf_counter() - t:.0f} s")
    out = day(services, args)
    n_first, res_first = out["first"]
    print(f"one simulated hour: {args.minutes:g} min at --sim-speed {args.speed:g}, --sim-hour {args.sim_hour:g}")
    print(f"  first rules pass (the history's overdue and nearly-due cases): {n_first} open, {res_first}")
    print(f"  planted: {[(round(t_ / 60), what) for t_, what, _ in out['planted']]} (simulated minute, anomaly)")
    print(f"  alerts raised {out['raised']}, open at the peak {out['peak']}, merged {out['merged']}")
    ps = out["passes"]
    print(f"  rules passes {len(ps)}: median {statistics.median(ps) * 1000:.0f} ms, max {max(ps) * 1000:.0f} ms")
    print("  open at the end:")
    for a in out["open"]:
        print(f"    [{a.severity}] {a.title} — {a.description[:70]} (×{a.repeat_count})")
    if args.storm:
        st = storm(app, services, args.storm)
        print(f"overdue storm of {args.storm} cases: rules pass {st['pass'].get('seconds', 0):.1f} s, "
              f"{st['pass']}; {st['open']} open alerts after it")
        print(f"  reports posted during the pass: {st['reports']}, ack p50 {st['p50']:.0f} ms, p95 {st['p95']:.0f} ms")
    services.shutdown()


if __name__ == "__main__":
    main()
