"""The demo street's governance life: activities now and then, and a few access-control
devices that report door, smoke and offline events through the signed-webhook code path.

Low rate (about 30 activities and 15 device events a day, more by day than by night),
deterministic for a seed and a sequence of clock readings: ``plan(now)`` decides,
``apply(plan)`` carries it out through the domain services.
"""
from __future__ import annotations

import json
import logging
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select

from .models import Case, Grid, Organisation, Place
from .models.governance import AccessDevice, GovernanceActivity
from .services.access_control import DeviceRefused, receive, signed_headers
from .services.governance import ACTIVITY_KINDS, ActivityProblem, create_activity
from .timeutil import local, utcnow

log = logging.getLogger(__name__)

ACTIVITIES_PER_DAY = 30.0
DEVICE_EVENTS_PER_DAY = {"door_forced": 2.0, "door_held_open": 10.0, "device_offline": 1.0, "smoke_alarm": 0.3}
TITLES = {"party_meeting": "主题党日", "party_service": "报到党员志愿服务", "sanguan_visit": "三官一律进网格",
          "moot_court": "模拟法庭", "legal_education": "普法宣传", "civility_practice": "新时代文明实践活动",
          "org_service": "社会组织便民服务", "volunteer_service": "志愿服务", "residents_council": "居民议事会协商",
          "mediation": "矛盾纠纷调解"}


def active_hours(hour: int) -> bool:
    return 8 <= hour < 21


@dataclass
class Plan:
    activities: list[dict] = field(default_factory=list)
    device_events: list[tuple[str, dict]] = field(default_factory=list)  # (device_id, body)


class GovernanceSimulator:
    """Build with ``from_db``; ``run(stop, db=...)`` ticks every few seconds."""

    def __init__(self, grids: list[tuple[str, list[str]]], devices: list[tuple[str, str, str]],
                 orgs: dict[str, list[str]], *, seed: int, speed: float = 1.0) -> None:
        self.rng = random.Random(seed * 31 + 10)
        self.seed, self.speed = seed, speed
        self.grids = grids      # (grid_code, [compound place codes])
        self.devices = devices  # (device_id, secret, kind)
        self.orgs = orgs        # community prefix of grid code → org codes
        self.offline: dict[str, datetime] = {}  # device → when it comes back
        self.last: datetime | None = None
        self.n = 0

    @classmethod
    def from_db(cls, session, *, seed: int, speed: float = 1.0, max_devices: int = 12) -> "GovernanceSimulator":
        compounds: dict[int, list[str]] = {}
        for gid, code in session.execute(select(Place.grid_id, Place.code).where(Place.kind == "compound")
                                         .order_by(Place.code)):
            compounds.setdefault(gid, []).append(code)
        grids = [(code, compounds.get(gid, [])) for gid, code in
                 session.execute(select(Grid.id, Grid.code).order_by(Grid.code))]
        devices = [(d, sec, k) for d, sec, k in session.execute(
            select(AccessDevice.device_id, AccessDevice.secret, AccessDevice.kind)
            .where(AccessDevice.active.is_(True)).order_by(AccessDevice.device_id))]
        rng = random.Random(seed)
        devices = sorted(rng.sample(devices, min(max_devices, len(devices))))  # "a few" simulated devices
        orgs: dict[str, list[str]] = {}
        for org, gcode in session.execute(select(Organisation.code, Grid.code)
                                          .join(Grid, Grid.id == Organisation.grid_id).order_by(Organisation.code)):
            orgs.setdefault(gcode[:12], []).append(org)
        return cls(grids, devices, orgs, seed=seed, speed=speed)

    def _count(self, per_day: float, sim_dt: float) -> int:
        lam = per_day * sim_dt / 86400.0
        k, p, limit = 0, self.rng.random(), math.exp(-lam)
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def plan(self, now: datetime) -> Plan:
        """Decide what happens between the previous tick and ``now`` (pure apart from the rng)."""
        out = Plan()
        dt = 0.0 if self.last is None else max(0.0, (now - self.last).total_seconds())
        self.last = now
        sim_dt = dt * self.speed
        hour = local(now).hour
        if active_hours(hour) and self.grids:
            for _ in range(self._count(ACTIVITIES_PER_DAY * 24 / 13, sim_dt)):
                out.activities.append(self._activity(now))
        for dev, back in sorted(self.offline.items()):
            if now >= back:
                del self.offline[dev]
                out.device_events.append((dev, self._event("device_online", now)))
        doors = [d for d, _, k in self.devices if k == "door" and d not in self.offline]
        smokes = [d for d, _, k in self.devices if k == "smoke" and d not in self.offline] or doors
        for kind, per_day in DEVICE_EVENTS_PER_DAY.items():
            pool = smokes if kind == "smoke_alarm" else doors
            for _ in range(self._count(per_day, sim_dt) if pool else 0):
                dev = self.rng.choice(pool)
                extra = {"duration_s": self.rng.choice([90, 240, 420, 900, 1800])} if kind == "door_held_open" else {}
                out.device_events.append((dev, self._event(kind, now, **extra)))
                if kind == "device_offline":
                    self.offline[dev] = now + timedelta(minutes=self.rng.randint(5, 30) / self.speed)
        return out

    def _event(self, kind: str, now: datetime, **extra) -> dict:
        self.n += 1
        return {"event_id": f"SIM{self.seed}-{self.n}", "type": kind, "occurred_at": now.isoformat(), **extra}

    def _activity(self, now: datetime) -> dict:
        kind = self.rng.choice(sorted(ACTIVITY_KINDS))
        gcode, comps = self.rng.choice(self.grids)
        volunteers = self.rng.randint(2, 12) if ACTIVITY_KINDS[kind][0] in ("virtue", "party") else 0
        hours = self.rng.choice([1, 1.5, 2])
        orgs = self.orgs.get(gcode[:12], [])
        self.n += 1
        return {"code": f"SIM{self.seed}-{self.n}", "kind": kind, "title": TITLES[kind], "grid_code": gcode,
                "place_code": self.rng.choice(comps) if comps else "",
                "org_code": self.rng.choice(orgs) if kind == "org_service" and orgs else "",
                "started_at": now, "ended_at": now + timedelta(hours=hours),
                "participants": self.rng.randint(5, 50) if kind != "mediation" else self.rng.randint(2, 5),
                "volunteers": volunteers, "volunteer_hours": volunteers * hours, "organiser": "西一路街道（模拟）"}

    def apply(self, plan: Plan, *, db, now: datetime) -> None:
        """Record the activities and send the device events through the webhook's code path."""
        secrets = {d: s for d, s, _ in self.devices}
        for data in plan.activities:
            try:
                with db.write(bulk=True) as s:
                    if data["kind"] in ("mediation", "residents_council"):
                        data = {**data, "case_code": self._case_to_settle(s, data["grid_code"], now) or ""}
                    create_activity(s, data, source="sim", created_by="模拟", now=now)
            except ActivityProblem as p:
                log.warning("simulated activity refused: %s %s", p.field, p.message)
        for dev, body in plan.device_events:
            raw = json.dumps(body).encode()
            try:
                with db.write(bulk=True) as s:
                    receive(s, signed_headers(dev, secrets[dev], raw, at=now), raw, now=now)
            except DeviceRefused as r:
                log.warning("simulated device event refused: %s", r.message)

    @staticmethod
    def _case_to_settle(s, grid_code: str, now: datetime) -> str | None:
        """A dispute or residents' request closed in this grid in the last week that nothing settled yet."""
        settled = select(GovernanceActivity.case_id).where(GovernanceActivity.case_id.is_not(None))
        return s.scalar(select(Case.code).join(Grid, Grid.id == Case.grid_id).where(
            Grid.code == grid_code, Case.state == "closed", Case.closed_at >= now - timedelta(days=7),
            Case.category_code.like("02%") | Case.category_code.like("06%"), Case.id.not_in(settled))
            .order_by(Case.closed_at.desc()).limit(1))

    def run(self, stop: threading.Event, *, db, clock: Callable[[], datetime] = utcnow, interval: float = 5.0) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; a failing tick is logged and skipped."""
        log.info("governance simulator: %d grids, %d devices, seed %d", len(self.grids), len(self.devices), self.seed)
        while not stop.is_set():
            now = clock()
            try:
                self.apply(self.plan(now), db=db, now=now)
            except Exception:
                log.exception("governance simulator tick failed")
            stop.wait(interval)

    @classmethod
    def start(cls, services, stop: threading.Event) -> None:
        """Build from the database and run (the entry point Services.start_background spawns)."""
        with services.db.read() as s:
            sim = cls.from_db(s, seed=services.settings.sim_seed, speed=services.settings.sim_speed)
        sim.run(stop, db=services.db)
