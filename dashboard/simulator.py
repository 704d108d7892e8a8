"""The live simulator of the demo street.

Workers on their shifts walk inside their grids and send fixes every 5–10 s through
the same ingest code real devices use; cases arise with a realistic category mix and
time-of-day curve; most are handled on the spot, the rest escalated, and the
simulated center dispatches, checks and closes most of those (some go overdue);
now and then a worker presses SOS.

``plan(now)`` decides what happens and is deterministic for a seed and a sequence
of clock readings; ``apply(actions)`` carries it out through the domain services.
"""
from __future__ import annotations

import logging
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import shapely
from shapely.geometry import shape
from sqlalchemy import select

from .models import Case, Category, Grid, Worker
from .offload import turns
from .services import workers as worker_svc
from .services.cases import CaseReport, IllegalTransition, CaseError, report_case, transition
from .services.positions import Fix, ingest_fixes
from .simulator_anomalies import PlantedAnomalies
from .simulator_residents import SimulatedResidents
from .simulator_workers import CENTER, TROUBLE, WorkerResponder
from .timeutil import SHANGHAI, utcnow

log = logging.getLogger(__name__)

M_PER_DEG_LAT = 111_320.0
# the night shift hands over to the day shift at 8: the street is never without a worker out (it was, 06–08)
SHIFTS = {"day": (8, 17), "evening": (14, 22), "night": (22, 8)}
# relative case intensity by hour of day (Asia/Shanghai): quiet nights, busy mornings
HOUR_CURVE = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.8, 2.4, 2.6, 2.2, 1.4, 1.2, 1.8, 2.2, 2.3, 2.0,
              1.5, 1.2, 1.0, 0.8, 0.5, 0.3]
# a tick's fixes go in transactions of this many (a few ms each), so a person's report waits for one of them at most
FIXES_PER_TRANSACTION = 25
SHIFTS_PER_TRANSACTION = 25  # ~6 ms each on the city dataset: ≤ ~150 ms of the write turn at a time
PLACES = ["小区门口", "楼下", "巷口", "沿街商铺前", "公交站旁", "院内", "路口东侧", "人行道上"]


def on_shift(shift: str, local_hour: float) -> bool:
    a, b = SHIFTS.get(shift, SHIFTS["day"])
    return a <= local_hour < b if a < b else (local_hour >= a or local_hour < b)


@dataclass
class SimWorker:
    id: int
    device_id: str
    grid_id: int
    shift: str
    poly: Any
    speed: float
    lat: float = 0.0
    lon: float = 0.0
    target: tuple[float, float] | None = None
    next_fix: datetime | None = None
    active: bool = False
    errand: tuple[float, float] | None = None  # a dispatched task's point: walk there and stay (simulator_workers)


@dataclass
class Actions:
    """What one tick decided; plain data so two runs can be compared."""

    shift_start: list[int] = field(default_factory=list)
    shift_end: list[int] = field(default_factory=list)
    fixes: list[tuple] = field(default_factory=list)      # (worker_id, device, lat, lon, speed, battery, alarm)
    reports: list[dict] = field(default_factory=list)
    steps: list[tuple] = field(default_factory=list)      # (case_key, action, worker_id)
    task_steps: list[tuple] = field(default_factory=list)  # workers answering people's dispatches (simulator_workers)
    device_events: list[tuple] = field(default_factory=list)  # planted door events (simulator_anomalies)
    residents: dict[str, list] = field(default_factory=dict)  # reports, visits, answers (simulator_residents)

    def as_tuple(self) -> tuple:
        return (tuple(self.shift_start), tuple(self.shift_end), tuple(self.fixes),
                tuple(tuple(sorted(r.items())) for r in self.reports), tuple(self.steps), tuple(self.task_steps),
                repr(sorted(self.residents.items())))


class Simulator:
    """Drives the demo street. Build with ``Simulator.from_db(...)``; run with ``run(stop)``."""

    def __init__(self, workers: list[SimWorker], categories: list[tuple[str, float, float]], *, seed: int,
                 speed: float = 1.0, cases_per_day: float = 400, sos_per_day: float = 3,
                 hour: float | None = None, trouble: float = TROUBLE) -> None:
        self.rng = random.Random(seed)
        self.hour = hour  # a fixed local hour of day (a demo or bench at night); None = the clock's
        self.seed = seed
        self.speed = speed
        self.cases_per_day = cases_per_day
        self.sos_per_day = sos_per_day
        self.workers = workers
        self.categories = categories
        self._cat_codes = [c for c, _, _ in categories]
        self._cat_weights = [w for _, w, _ in categories]
        self._onsite = {c: s for c, _, s in categories}
        self.last: datetime | None = None
        self.n_reports = 0
        self.followups: list[tuple[datetime, str, str, int | None]] = []  # (due, case_key, action, worker)
        self.case_ids: dict[str, int] = {}
        self._category_names: dict[str, str] | None = None  # code → name, read once
        self.by_id = {w.id: w for w in workers}
        self.responder = WorkerResponder(seed, speed, trouble=trouble)  # tasks a person dispatched to them
        self.planted = PlantedAnomalies(seed)  # a burst, an SOS, a door held open at night in each simulated day
        self.residents = SimulatedResidents(seed, speed, cases_per_day=cases_per_day)  # reports, answers, visits

    @classmethod
    def from_db(cls, session, *, seed: int, speed: float = 1.0, cases_per_day: float = 400,
                hour: float | None = None, trouble: float = TROUBLE) -> "Simulator":
        rng = random.Random(seed)
        polys = {gid: shape(b) for gid, b in session.execute(select(Grid.id, Grid.boundary)).all()}
        sim_workers = []
        for w in session.scalars(select(Worker).where(Worker.active.is_(True), Worker.device_id.is_not(None))
                                 .order_by(Worker.id)):
            if w.grid_id not in polys:
                continue
            # walk inside a slightly shrunken grid so GPS noise stays within the grid
            poly = polys[w.grid_id]
            inner = poly.buffer(-0.00006)
            sim_workers.append(SimWorker(w.id, w.device_id, w.grid_id, w.shift,
                                         inner if not inner.is_empty and inner.area > poly.area * 0.3 else poly,
                                         speed=rng.uniform(0.9, 1.5)))
        cats = [(c.code, c.weight, c.onsite_share) for c in session.scalars(
            select(Category).where(Category.active.is_(True)).order_by(Category.code))]
        return cls(sim_workers, cats, seed=seed, speed=speed, cases_per_day=cases_per_day, hour=hour,
                   trouble=trouble)

    # -- planning (pure) -------------------------------------------------------
    def _random_point(self, poly) -> tuple[float, float]:
        minx, miny, maxx, maxy = poly.bounds
        for _ in range(200):
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shapely.contains_xy(poly, x, y):
                return y, x
        p = poly.representative_point()
        return p.y, p.x

    def plan(self, now: datetime) -> Actions:
        """Decide what happens between the previous tick and ``now``."""
        acts = Actions()
        dt = 0.0 if self.last is None else max(0.0, (now - self.last).total_seconds())
        self.last = now
        sim_dt = dt * self.speed
        loc = now.astimezone(SHANGHAI)
        hour = self.hour if self.hour is not None else loc.hour + loc.minute / 60
        for w in turns(self.workers):  # 20,000 on a city: a request arriving meanwhile is served between them
            should = on_shift(w.shift, hour)
            if should and not w.active:
                w.active = True
                w.lat, w.lon = self._random_point(w.poly)
                w.target = self._random_point(w.poly)
                w.next_fix = now + timedelta(seconds=self.rng.uniform(0, 10) / self.speed)
                acts.shift_start.append(w.id)
            elif not should and w.active:
                w.active = False
                acts.shift_end.append(w.id)
                continue
            if not w.active:
                continue
            self._walk(w, sim_dt)
            if now >= w.next_fix:
                noise = 3.0 / M_PER_DEG_LAT
                lat = w.lat + self.rng.gauss(0, noise)
                lon = w.lon + self.rng.gauss(0, noise) / math.cos(math.radians(w.lat))
                batt = round(100 - (hash((self.seed, w.id)) % 40) - hour % 8 * 2, 0)
                acts.fixes.append((w.id, w.device_id, round(lat, 7), round(lon, 7), round(w.speed, 2), batt, None))
                w.next_fix = now + timedelta(seconds=self.rng.uniform(5, 10) / self.speed)
        active = [w for w in self.workers if w.active]
        if active and sim_dt > 0:
            rate = self.cases_per_day * HOUR_CURVE[int(hour) % 24] / sum(HOUR_CURVE) * 24 / 86400
            for _ in range(self._poisson(rate * sim_dt)):
                w = self.rng.choice(active)
                cat = self.rng.choices(self._cat_codes, weights=self._cat_weights)[0]
                onsite = self.rng.random() < self._onsite.get(cat, 0.6)
                self.n_reports += 1
                key = f"sim-{self.seed}-{self.n_reports}"
                acts.reports.append({"key": key, "worker_id": w.id, "category": cat, "lat": round(w.lat, 7),
                                     "lon": round(w.lon, 7), "onsite": onsite,
                                     "where": self.rng.choice(PLACES)})
                if not onsite:
                    self._schedule_loop(now, key, w.id)
            for _ in range(self._poisson(self.sos_per_day / 86400 * sim_dt)):
                w = self.rng.choice(active)
                acts.fixes.append((w.id, w.device_id, round(w.lat, 7), round(w.lon, 7), 0.0, None, "sos"))
        acts.residents = self.residents.plan(self, now, HOUR_CURVE[int(hour) % 24] / sum(HOUR_CURVE) * 24, sim_dt,
                                             active)
        planted = self.planted.plan(self, now, hour, sim_dt)
        acts.reports += planted.reports
        acts.fixes += planted.fixes
        acts.device_events = planted.device_events
        acts.task_steps = self.responder.plan(now, self.by_id)
        due = [f for f in self.followups if f[0] <= now]
        self.followups = [f for f in self.followups if f[0] > now]
        acts.steps.extend((k, a, wid) for _, k, a, wid in sorted(due, key=lambda f: (f[0], f[1])))
        return acts

    def _schedule_loop(self, now: datetime, key: str, reporter: int) -> datetime | None:
        """The simulated center works most escalated cases through the loop; some are left to go overdue.
        Returns when it plans to close the case (None when left)."""
        if self.rng.random() < 0.12:
            return None
        m = lambda lo, hi: timedelta(minutes=self.rng.uniform(lo, hi) / self.speed)  # noqa: E731
        t = now + m(2, 15)
        plan = [("register", None), ("dispatch", reporter), ("acknowledge", None), ("arrive", None),
                ("feedback", None)]
        gaps = [(0.2, 1), (1, 8), (3, 15), (10, 60), (5, 40)]
        if self.rng.random() < 0.1:
            plan += [("reject", None), ("acknowledge", None), ("arrive", None), ("feedback", None)]
            gaps += [(5, 30), (1, 5), (3, 10), (10, 40)]
        plan.append(("approve", None))
        gaps.append((5, 30))
        for (action, wid), gap in zip(plan, gaps):
            t += m(*gap)
            self.followups.append((t, key, action, wid))
        return t

    def _walk(self, w: SimWorker, sim_dt: float) -> None:
        if w.errand is not None:  # on the way to a dispatched task: straight there, then stay
            w.target = w.errand
        elif w.target is None:  # back from a task
            w.target = self._random_point(w.poly)
        dist = w.speed * sim_dt
        while dist > 0 and w.target is not None:
            tlat, tlon = w.target
            dy = (tlat - w.lat) * M_PER_DEG_LAT
            dx = (tlon - w.lon) * M_PER_DEG_LAT * math.cos(math.radians(w.lat))
            d = math.hypot(dx, dy)
            if d <= dist:
                w.lat, w.lon = tlat, tlon
                dist -= d
                if w.errand is not None:
                    break
                w.target = self._random_point(w.poly)
                if self.rng.random() < 0.3:  # pause at a stop
                    break
            else:
                f = dist / d
                w.lat += (tlat - w.lat) * f
                w.lon += (tlon - w.lon) * f
                dist = 0

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= L:
                return k
            k += 1

    # -- applying (through the domain services) ------------------------------
    def apply(self, acts: Actions, *, db, locator, frames=None, calendar=None, now: datetime | None = None,
              uploads: Path | None = None) -> None:
        """Carry out one tick's decisions in short transactions, as the phones and desks the simulator stands
        for would: one transaction per tick held SQLite's write lock for 25–95 ms (up to a second on a busy
        box), and a report filed by a person at that moment waited for all of it."""
        now = now or utcnow()
        # a shift's workers start or end their patrols in short transactions (a city's first step starts
        # 20,000 shifts: one transaction held the write lock for two minutes and a person's report waited)
        shifts = [(True, wid) for wid in acts.shift_start] + [(False, wid) for wid in acts.shift_end]
        for i in range(0, len(shifts), SHIFTS_PER_TRANSACTION):
            with db.write(bulk=True) as s:
                for starts, wid in shifts[i:i + SHIFTS_PER_TRANSACTION]:
                    if starts:
                        worker_svc.start_patrol(s, s.get(Worker, wid), now=now)
                    else:
                        worker_svc.end_patrol(s, s.get(Worker, wid), now=now)
        fixes = [Fix(device_id=dev, lat=lat, lon=lon, speed=sp, battery=b, alarm=alarm, fix_time=now,
                     source="sim") for _, dev, lat, lon, sp, b, alarm in acts.fixes]
        for i in range(0, len(fixes), FIXES_PER_TRANSACTION):
            with db.write(bulk=True) as s:
                res = ingest_fixes(s, fixes[i:i + FIXES_PER_TRANSACTION], locator=locator, now=now)
            if frames is not None:  # committed: the markers may move on the walls
                frames.add(res.moved)
        if acts.reports and self._category_names is None:
            with db.read() as s:
                self._category_names = dict(s.execute(select(Category.code, Category.name)).all())
        for r in acts.reports:
            name = self._category_names[r["category"]]
            desc = f"{r['where']}发现{name}" + ("，已现场处置" if r["onsite"] else "，需协调处置")
            with db.write(bulk=True) as s:
                c, _ = report_case(s, CaseReport(category_code=r["category"], description=desc, lat=r["lat"],
                                                 lon=r["lon"], onsite=r["onsite"], source="app",
                                                 reporter_worker_id=r["worker_id"], idempotency_key=r["key"]),
                                   locator=locator, now=now)
                self.case_ids[r["key"]] = c.id
        if acts.residents:
            self.residents.apply(acts.residents, sim=self, db=db, locator=locator, now=now)
        for key, action, wid in acts.steps:
            cid = self.case_ids.get(key)
            if cid is None:
                continue
            state = None
            try:
                with db.write(bulk=True) as s:
                    c = s.get(Case, cid)
                    if c is not None:
                        transition(s, c, action, actor=CENTER if action in ("register", "dispatch", "approve",
                                   "reject") else "模拟网格员", worker_id=wid, calendar=calendar, now=now)
                        state = c.state
            except (IllegalTransition, CaseError):
                pass  # a person took the case over; the simulator lets go of it (its transaction rolled back)
            if state is None:
                with db.read() as s:
                    c = s.get(Case, cid)
                    state = c.state if c is not None else "void"
            if state in ("closed", "void"):
                self.case_ids.pop(key, None)
        self.responder.apply(acts.task_steps, db=db, uploads=uploads, calendar=calendar, now=now,
                             workers=self.by_id)
        with db.read() as s:  # dispatches a person sent to simulated workers since the last tick
            self.responder.sense(s, now, self.by_id)
        self.planted.apply_events(acts.device_events, db=db, now=now)

    def run(self, stop: threading.Event, *, db, locator, frames=None, calendar=None,
            clock: Callable[[], datetime] = utcnow, interval: float = 1.0, uploads: Path | None = None) -> None:
        """Tick once a second until ``stop`` is set; a failing tick is logged and skipped."""
        log.info("simulator running: %d workers, seed %d, speed %.1f", len(self.workers), self.seed, self.speed)
        while not stop.is_set():
            now = clock()
            try:
                self.apply(self.plan(now), db=db, locator=locator, frames=frames, calendar=calendar, now=now,
                           uploads=uploads)
            except Exception:
                log.exception("simulator tick failed")
            stop.wait(interval)
