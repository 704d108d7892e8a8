"""Residents on the live demo street (issue 31): now and then a resident reports from a compound's QR code, and
answers some time after the center closed it; workers on patrol record a visit (走访) now and then.

A resident's report goes through ``services.residents.report`` — the path ``POST /api/v1/r/reports`` takes — so it
is an ordinary case (source "resident") with its ticket, its event reaches the walls' ticker as [居民], and the
simulated center works it through the loop like a worker's escalated case. The answer goes through
``services.residents.rate`` (a 不满意 sends the case back to the check queue once, and the center closes it again),
the visit through ``services.visits.record_visit``. Planning is pure and deterministic for a seed and a sequence of
clock readings (its own random stream: the street's other decisions are untouched); applying is the services'.
"""
from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from .demodata.residents_recent import (ANSWER_MIX, COMMENTS, FOLLOW_UPS, NEEDS, OPINIONS, REPORT_TEXTS,
                                        RESIDENT_KEYS, VISIT_PLACES)
from .models import Case, Grid, ResidentTicket, Worker
from .services import residents as res_svc
from .services.visits import VisitError, record_visit

log = logging.getLogger(__name__)

RESIDENT_SHARE = 0.1     # resident reports per day, as a share of the simulated cases per day
VISITS_PER_SHIFT = 2.5   # visits a worker on shift records (over an 8–9 hour shift)
SHIFT_S = 8.5 * 3600
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


class SimulatedResidents:
    """The residents' and visits' part of the simulator: ``plan`` decides, ``apply`` carries out."""

    def __init__(self, seed: int, speed: float, *, cases_per_day: float) -> None:
        self.rng = random.Random(f"{seed}:residents")
        self.seed = seed
        self.speed = speed
        self.per_day = cases_per_day * RESIDENT_SHARE
        self.n = 0
        self.answers: list[tuple[datetime, str, str, str]] = []  # (due, case key, value, comment)
        self._grid_codes: dict[int, str] | None = None

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def plan(self, sim, now: datetime, hour_weight: float, sim_dt: float, active: list) -> dict[str, list]:
        """This tick's reports (each worked through the simulated center's loop by ``sim``), visits and answers."""
        out: dict[str, list] = {"reports": [], "visits": [], "answers": []}
        if active and sim_dt > 0:
            for _ in range(self._poisson(self.per_day * hour_weight / 86400 * sim_dt)):
                w = self.rng.choice(active)
                self.n += 1
                key = f"simr-{self.seed}-{self.n}"
                cat = self.rng.choice(RESIDENT_KEYS)
                lat, lon = sim._random_point(w.poly)
                out["reports"].append({"key": key, "grid_id": w.grid_id, "category": cat,
                                       "description": self.rng.choice(REPORT_TEXTS[cat]),
                                       "lat": round(lat, 7), "lon": round(lon, 7),
                                       "phone": "139" + f"{self.rng.randrange(10**8):08d}"
                                       if self.rng.random() < 0.7 else None})
                closed = sim._schedule_loop(now, key, w.id)
                if closed is not None and self.rng.random() < 0.85:  # most residents answer, hours later
                    value = self.rng.choices([v for v, _ in ANSWER_MIX], weights=[p for _, p in ANSWER_MIX])[0]
                    comment = self.rng.choice([c for c in COMMENTS[value] if c] or ["-"])
                    due = closed + timedelta(minutes=self.rng.uniform(10, 240) / self.speed)
                    self.answers.append((due, key, value, comment))
            visit_rate = VISITS_PER_SHIFT / SHIFT_S * sim_dt
            for w in active:
                if self.rng.random() < visit_rate:
                    place = self.rng.random() < 0.2
                    body = {"kind": "place" if place else "household",
                            "whom": "" if place else self.rng.choice(_SURNAMES) + "".join(
                                self.rng.choice(_GIVEN) for _ in range(self.rng.randint(1, 2))),
                            "place": self.rng.choice(VISIT_PLACES), "needs": self.rng.choice(NEEDS),
                            "opinions": self.rng.choice(OPINIONS[:-1]), "follow_up": self.rng.choice(FOLLOW_UPS),
                            "lat": round(w.lat, 7), "lon": round(w.lon, 7)}
                    out["visits"].append((w.id, body))
        due = sorted((a for a in self.answers if a[0] <= now), key=lambda a: (a[0], a[1]))
        self.answers = [a for a in self.answers if a[0] > now]
        out["answers"] = [(k, v, c) for _, k, v, c in due]
        return out

    def apply(self, plan: dict[str, list], *, sim, db, locator, now: datetime) -> None:
        """Carry out the tick's reports, visits and answers, one short transaction each."""
        if plan["reports"] and self._grid_codes is None:
            with db.read() as s:
                self._grid_codes = dict(s.execute(select(Grid.id, Grid.code)).all())
        for r in plan["reports"]:
            code = (self._grid_codes or {}).get(r["grid_id"])
            if code is None:
                continue
            try:
                with db.write(bulk=True) as s:
                    c, _, _ = res_svc.report(s, res_svc.ResidentReport(
                        grid_code=code, category=r["category"], description=r["description"], lat=r["lat"],
                        lon=r["lon"], phone=r["phone"], idempotency_key=r["key"], address_hash=None),
                        locator=locator, now=now)
                    sim.case_ids[r["key"]] = c.id
            except res_svc.ResidentError:
                log.debug("simulated resident report refused", exc_info=True)
        for wid, body in plan["visits"]:
            try:
                with db.write(bulk=True) as s:
                    w = s.get(Worker, wid)
                    if w is not None:
                        record_visit(s, w, body, locator=locator, now=now)
            except VisitError:
                log.debug("simulated visit refused", exc_info=True)
        for key, value, comment in plan["answers"]:
            cid = sim.case_ids.get(key) or self._case_of(db, key)
            if cid is None:
                continue
            try:
                with db.write(bulk=True) as s:
                    t = s.scalar(select(ResidentTicket).where(ResidentTicket.case_id == cid))
                    if t is not None:
                        c = res_svc.followed_case(s, t)
                        if res_svc.can_rate(c, t) and res_svc.rate(s, t, value, comment, now=now):
                            # back in the check queue as rework: the simulated center closes it again later
                            sim.case_ids[key] = c.id
                            sim.followups.append((now + timedelta(minutes=45 / self.speed), key, "approve", None))
            except res_svc.ResidentError:
                pass  # not closed (a person took it over, or it is overdue): this resident does not answer

    @staticmethod
    def _case_of(db: Any, key: str) -> int | None:
        with db.read() as s:
            return s.scalar(select(Case.id).where(Case.idempotency_key == key))
