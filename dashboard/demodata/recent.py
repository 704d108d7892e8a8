"""The demo street's recent past, relative to today: the last ``days`` days (yesterday and the same day a week
before it included) of cases, tracks and foot patrols.

A fresh ``python run.py`` then shows yesterday and the same day last week on /briefing (comparisons, replay,
mileage) instead of empty days. Written quietly (no live events: it is history) and compactly — bulk inserts, a
fix every ``fix_every_s`` seconds per worker on shift (the replay samples tracks every 5 minutes anyway) — so it
takes seconds, in the background after the server is up. Deterministic for a seed and a day; every figure is
made the way the live code would (deadlines by the work calendar and the category's clock, the case timeline
for the replay, the fixes' per-day rollup with its mileage by ``services.position_day.backfill``).
"""
from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import numpy as np
from shapely.geometry import shape
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from . import residents_recent
from ..models import Case, CaseLog, Category, Grid, Patrol, Worker
from ..services.position_day import record
from ..timeutil import SHANGHAI, local_today
from ..workcal import WorkCalendar

log = logging.getLogger(__name__)

# relative case intensity by local hour (the simulator's curve)
HOUR_CURVE = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.8, 2.4, 2.6, 2.2, 1.4, 1.2, 1.8, 2.2, 2.3, 2.0,
                       1.5, 1.2, 1.0, 0.8, 0.5, 0.3])
SHIFTS = {"day": (8, 17), "evening": (14, 22), "night": (22, 32)}  # local hours; night runs past midnight
M_PER_DEG = 111_195.0


def _at(day: date, hours: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(hours=float(hours))


def seed_recent(session: Session, *, today: date | None = None, days: int = 8, cases_per_day: int = 220,
                fix_every_s: int = 600, seed: int = 20261129, calendar: WorkCalendar | None = None,
                only: date | None = None) -> dict[str, int]:
    """Fill the ``days`` days before ``today`` (Asia/Shanghai; just ``only`` if given), each day only if it holds no
    case yet; returns row counts. A caller that must not hold a write lock long writes one day per transaction."""
    t0 = time.perf_counter()
    today = today or local_today()
    wanted = [only] if only else [today - timedelta(days=k) for k in range(days, 0, -1)]
    cal = calendar or WorkCalendar.official()
    grids = session.execute(select(Grid.id, Grid.community_id, Grid.boundary, Grid.centroid_lat,
                                   Grid.centroid_lon, Grid.name)).all()
    workers = session.execute(select(Worker.id, Worker.grid_id, Worker.shift, Worker.code).where(
        Worker.active.is_(True), Worker.grid_id.is_not(None)).order_by(Worker.id)).all()
    cats = session.execute(select(Category.code, Category.weight, Category.onsite_share, Category.time_limit_hours,
                                  Category.default_priority, Category.clock)).all()
    if not grids or not workers or not cats:
        return {}
    g_by_id = {g.id: g for g in grids}
    boxes = {g.id: shape(g.boundary).bounds for g in grids}
    weights = np.array([max(c.weight or 1, 0.1) for c in cats], dtype=float)
    weights /= weights.sum()
    hour_p = HOUR_CURVE / HOUR_CURVE.sum()
    counts = {"cases": 0, "case_log": 0, "fixes": 0, "patrols": 0, "resident_tickets": 0, "resident_answers": 0,
              "visits": 0, "notices": 0}
    for day in wanted:
        if session.scalar(select(func.count()).select_from(Case).where(Case.created_at >= _at(day, 0),
                                                                         Case.created_at < _at(day, 24))):
            continue
        rng = np.random.default_rng(seed + day.toordinal())
        cases: list[dict] = []
        logs: list[tuple[int, datetime, str, str | None, str]] = []  # (case index, at, action, from, to)
        n = int(rng.poisson(cases_per_day * (0.8 if day.weekday() >= 5 else 1.0)))
        hours = np.sort(rng.choice(24, n, p=hour_p) + rng.random(n))
        for k, h in enumerate(hours):
            c = cats[int(rng.choice(len(cats), p=weights))]
            w = workers[int(rng.integers(len(workers)))]
            g = g_by_id[w.grid_id]
            x0, y0, x1, y1 = boxes[g.id]
            created = _at(day, h)
            onsite = bool(rng.random() < (c.onsite_share or 0.3))
            row = {"code": f"{day:%Y%m%d}{k + 1:05d}", "category_code": c.code, "priority": c.default_priority or 3,
                   "description": "演示数据", "address": g.name, "grid_id": g.id, "community_id": g.community_id,
                   "lat": round(g.centroid_lat + (rng.random() - 0.5) * (y1 - y0) * 0.6, 6),
                   "lon": round(g.centroid_lon + (rng.random() - 0.5) * (x1 - x0) * 0.6, 6),
                   "source": "app", "reporter_worker_id": w.id, "handled_onsite": onsite, "level": "grid",
                   "created_at": created, "updated_at": created, "state": "reported", "rework_count": 0}
            i = len(cases)
            logs.append((i, created, "report", None, "reported"))
            if onsite:
                closed = created + timedelta(minutes=float(rng.uniform(5, 40)))
                row.update(state="closed", closed_at=closed, updated_at=closed)
                logs.append((i, closed, "onsite", "reported", "closed"))
            elif rng.random() < 0.93:  # escalated: the center dispatches most within the hour
                disp = created + timedelta(minutes=float(rng.uniform(5, 60)))
                clock = c.clock or "working"
                due = cal.deadline(created if clock == "natural" else disp, c.time_limit_hours, clock)
                row.update(state="dispatched", dispatched_at=disp, assigned_worker_id=w.id, sla_due_at=due,
                           registered_at=disp, updated_at=disp)
                logs.append((i, disp, "dispatch", "reported", "dispatched"))
                span = (due - disp).total_seconds()
                took = span * float(rng.uniform(0.1, 0.95) if rng.random() < 0.85 else rng.uniform(1.05, 2.5))
                fb = disp + timedelta(seconds=took)
                close = fb + timedelta(minutes=float(rng.uniform(10, 90)))
                end = _at(today, 0)
                if fb < end:
                    row.update(state="feedback", feedback_at=fb, updated_at=fb)
                    logs.append((i, fb, "feedback", "dispatched", "feedback"))
                    if close < end:
                        row.update(state="closed", closed_at=close, updated_at=close)
                        logs.append((i, close, "approve", "feedback", "closed"))
            cases.append(row)
        r_rng = np.random.default_rng([seed, day.toordinal(), 31])  # the residents' own stream (issue 31)
        chosen = residents_recent.pick_resident(cases, r_rng)
        if cases:
            session.execute(insert(cast(Table, Case.__table__)), [{c: r.get(c) for c in CASE_COLUMNS} for r in cases])
            ids = dict(session.execute(select(Case.code, Case.id).where(
                Case.code.in_([r["code"] for r in cases]))).all())
            session.execute(insert(cast(Table, CaseLog.__table__)), [
                {"case_id": ids[cases[i]["code"]], "at": at, "action": a, "from_state": f, "to_state": to,
                 "actor": "demo", "note": ""} for i, at, a, f, to in logs])
            for key, v in residents_recent.write_day(session, r_rng, day=day, end=_at(today, 0), cases=cases,
                                                     chosen=chosen, ids=ids, workers=workers, g_by_id=g_by_id,
                                                     seed=seed, at=_at).items():
                counts[key] += v
        n_fix, n_patrol = _tracks(session, rng, workers, boxes, g_by_id, day, fix_every_s, today)
        for key, v in (("cases", len(cases)), ("case_log", len(logs)), ("fixes", n_fix), ("patrols", n_patrol)):
            counts[key] += v
    if counts["cases"]:
        log.info("demo history for %s in %.1f s: %s", ", ".join(map(str, wanted)), time.perf_counter() - t0, counts)
    return counts


CASE_COLUMNS = ["code", "category_code", "priority", "description", "address", "grid_id", "community_id", "lat",
                "lon", "source", "reporter_worker_id", "handled_onsite", "level", "created_at", "updated_at", "state",
                "rework_count", "dispatched_at", "assigned_worker_id", "sla_due_at", "registered_at", "feedback_at",
                "closed_at"]


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A free walk folded into [lo, hi] (it bounces off the edges), vectorised."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    r = np.mod(x - lo, 2 * span)
    return lo + np.where(r > span, 2 * span - r, r)


def _tracks(session: Session, rng: np.random.Generator, workers, boxes, g_by_id, day: date, every_s: int,
            today: date) -> tuple[int, int]:
    """Each worker on shift walks its grid: a fix about every ``every_s`` s (~1.2 m/s with turns, a few metres of
    GPS jitter), one foot patrol per shift. Bulk-inserted; the rollup and mileage kept as ingest keeps them."""
    import pandas as pd

    from .city import _bulk_insert

    parts: list[pd.DataFrame] = []
    patrols: list[dict] = []
    end = pd.Timestamp(_at(today, 0))
    for w in workers:
        if rng.random() < 0.15:  # a day off
            continue
        a, b = SHIFTS.get(w.shift or "day", SHIFTS["day"])
        g = g_by_id[w.grid_id]
        x0, y0, x1, y1 = boxes[g.id]
        n = int((b - a) * 3600 // every_s)
        secs = np.cumsum(rng.uniform(0.9, 1.0, n) * every_s)
        times = pd.Timestamp(_at(day, a)) + pd.to_timedelta(secs, unit="s")
        keep = times < end
        if not keep.any():
            continue
        m_lon = M_PER_DEG * np.cos(np.radians(g.centroid_lat))
        steps = rng.normal(0, 0.6 * every_s, (n, 2))  # metres
        lat = _fold(g.centroid_lat + np.cumsum(steps[:, 0]) / M_PER_DEG, y0, y1)
        lon = _fold(g.centroid_lon + np.cumsum(steps[:, 1]) / m_lon, x0, x1)
        jit = rng.normal(0, 4, (n, 2))
        parts.append(pd.DataFrame({
            "worker_id": w.id, "fix_time": times[keep], "received_at": times[keep],
            "lat": np.round(lat + jit[:, 0] / M_PER_DEG, 6)[keep], "lon": np.round(lon + jit[:, 1] / m_lon, 6)[keep],
            "accuracy": np.round(rng.uniform(4, 20, n), 1)[keep], "grid_id": g.id, "outside": False,
            "source": "demo"}))
        t_first, t_last = times[keep][0].floor("us"), times[keep][-1].floor("us")
        patrols.append({"kind": "foot", "worker_id": w.id, "started_at": t_first.to_pydatetime(),
                        "ended_at": t_last.to_pydatetime(), "distance_m": 0.0, "grids_covered": [g.id], "log": []})
    if not parts:
        return 0, 0
    fixes = pd.concat(parts, ignore_index=True)
    stored = fixes.copy()
    stored["fix_time"] = stored["fix_time"].dt.tz_convert("UTC").dt.tz_localize(None)  # naive UTC, as stored
    stored["received_at"] = stored["fix_time"]
    _bulk_insert(session.connection(), "position", stored)
    rows = [SimpleNamespace(worker_id=wid, fix_time=t, lat=la, lon=lo, grid_id=gid, accuracy=acc)
            for wid, t, la, lo, gid, acc in zip(fixes["worker_id"].tolist(), fixes["fix_time"].dt.to_pydatetime(),
                                                fixes["lat"].tolist(), fixes["lon"].tolist(),
                                                fixes["grid_id"].tolist(), fixes["accuracy"].tolist())]
    record(session, rows)  # the per-day rollup and its mileage, as ingest keeps them (no read-back)
    session.execute(insert(Patrol), patrols)
    return len(fixes), len(patrols)
