"""A few real anomalies planted in each simulated day, so the wall's alerts have something true to say.

The ordinary simulation is calm by design: cases spread over 301 grids, an SOS now and then. What a control room
must see is rarer, and a demo or bench of an hour would otherwise show none of it. Each simulated day gets:

- a burst in one grid: ``BURST_CASES`` reports within ``BURST_MINUTES`` simulated minutes (the case-spike rule's
  alert appears and then updates in place as the burst goes on);
- an SOS: one worker on shift presses SOS, and again a minute later (one alert, repeated);
- a door held open at night: an access-control door reports it was held open ``DOOR_HELD_S`` seconds — only when
  the simulated hour is night (22:00–06:00), so a day-time run leaves it for the night.

The first day's anomalies come early (minutes ``FIRST_AT``), so a demo shows them soon; later days' at random
times. Times are simulated seconds since the simulator started (``speed`` × wall-clock seconds). Deterministic for
a seed and a sequence of ticks, like the simulator. Hooked into ``Simulator.plan``/``apply``.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

log = logging.getLogger(__name__)

DAY_S = 86400.0
BURST_CASES = 10
BURST_MINUTES = 15.0
SOS_REPEAT_S = 60.0
DOOR_HELD_S = 1200
FIRST_AT = {"burst": 10 * 60.0, "sos": 30 * 60.0, "door": 45 * 60.0}  # simulated seconds, the first day
BURST_PLACES = ["小区门口", "沿街商铺前", "巷口", "楼下"]


def is_night(hour: float) -> bool:
    return hour >= 22 or hour < 6


@dataclass
class Planted:
    """What the anomalies of one tick add: reports (the simulator's report dicts), SOS fixes (its fix tuples),
    device events (device id, body) sent by ``apply``."""

    reports: list[dict] = field(default_factory=list)
    fixes: list[tuple] = field(default_factory=list)
    device_events: list[tuple[str, dict]] = field(default_factory=list)


class PlantedAnomalies:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7 + 27)
        self.seed = seed
        self.elapsed = 0.0           # simulated seconds so far
        self.day = -1
        self.due: dict[str, float] = {}   # anomaly → simulated second it starts (this day)
        self.burst: dict[str, Any] | None = None
        self.sos_again: tuple[float, int] | None = None
        self.n = 0
        self.doors: list[tuple[str, str]] | None = None  # (device_id, secret) of door devices, read once
        self.log: list[tuple[float, str, Any]] = []      # (simulated second, anomaly, subject): what was planted

    def _new_day(self) -> None:
        self.day += 1
        if self.day == 0:
            self.due = dict(FIRST_AT)
        else:
            base = self.day * DAY_S
            self.due = {k: base + self.rng.uniform(0.05, 0.9) * DAY_S for k in FIRST_AT}

    def plan(self, sim, now: datetime, hour: float, sim_dt: float) -> Planted:
        """What happens in this tick (``sim``: the Simulator, for its workers, rng-free helpers and keys)."""
        out = Planted()
        if sim_dt <= 0:
            return out
        self.elapsed += sim_dt
        while self.elapsed >= (self.day + 1) * DAY_S or self.day < 0:
            self._new_day()
        active = [w for w in sim.workers if w.active]
        if "burst" in self.due and self.elapsed >= self.due["burst"] and active:
            del self.due["burst"]
            w = self.rng.choice(active)
            cat = self.rng.choices(sim._cat_codes, weights=sim._cat_weights)[0] if sim._cat_codes else None
            if cat is not None:
                self.burst = {"worker": w, "category": cat, "left": BURST_CASES, "next": self.elapsed}
                self.log.append((self.elapsed, "burst", w.grid_id))
        if self.burst is not None:
            b = self.burst
            while b["left"] > 0 and self.elapsed >= b["next"]:
                w = b["worker"]
                lat, lon = sim._random_point(w.poly)
                self.n += 1
                out.reports.append({"key": f"sim-{self.seed}-burst-{self.day}-{self.n}", "worker_id": w.id,
                                    "category": b["category"], "lat": round(lat, 7), "lon": round(lon, 7),
                                    "onsite": False, "where": self.rng.choice(BURST_PLACES)})
                b["left"] -= 1
                b["next"] += BURST_MINUTES * 60 / BURST_CASES
            if b["left"] <= 0:
                self.burst = None
        if "sos" in self.due and self.elapsed >= self.due["sos"] and active:
            del self.due["sos"]
            w = self.rng.choice(active)
            out.fixes.append((w.id, w.device_id, round(w.lat, 7), round(w.lon, 7), 0.0, None, "sos"))
            self.sos_again = (self.elapsed + SOS_REPEAT_S, w.id)
            self.log.append((self.elapsed, "sos", w.id))
        elif self.sos_again is not None and self.elapsed >= self.sos_again[0]:
            w = sim.by_id.get(self.sos_again[1])
            self.sos_again = None
            if w is not None:
                out.fixes.append((w.id, w.device_id, round(w.lat, 7), round(w.lon, 7), 0.0, None, "sos"))
        if "door" in self.due and self.elapsed >= self.due["door"] and is_night(hour):
            del self.due["door"]
            self.n += 1
            out.device_events.append(("", {"event_id": f"SIMA{self.seed}-{self.day}-{self.n}", "type":
                                           "door_held_open", "occurred_at": now.isoformat(),
                                           "duration_s": DOOR_HELD_S}))
            self.log.append((self.elapsed, "door", None))
        return out

    def apply_events(self, device_events: list[tuple[str, dict]], *, db, now: datetime) -> None:
        """Send the device events through the signed-webhook code path (reports and fixes go with the tick's)."""
        if not device_events:
            return
        from .models.governance import AccessDevice
        from .services.access_control import DeviceRefused, receive, signed_headers

        if self.doors is None:
            with db.read() as s:
                self.doors = [(d, sec) for d, sec in s.execute(
                    select(AccessDevice.device_id, AccessDevice.secret).where(
                        AccessDevice.active.is_(True), AccessDevice.kind == "door").order_by(AccessDevice.device_id))]
        if not self.doors:
            return
        for _, body in device_events:
            dev, secret = self.rng.choice(self.doors)
            raw = json.dumps(body).encode()
            try:
                with db.write(bulk=True) as s:
                    receive(s, signed_headers(dev, secret, raw, at=now), raw, now=now)
            except DeviceRefused as r:
                log.warning("planted door event refused: %s", r.message)
