"""The governance simulator: deterministic for a seed, and its doors go through the signed webhook path."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from dashboard.models import Alert, Place
from dashboard.models.governance import AccessDevice, DeviceEvent, GovernanceActivity
from dashboard.simulator_governance import GovernanceSimulator
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district


def _world(services):
    with services.db.write() as s:
        d = make_district(s)
        for i, g in enumerate(d["grids"][:4]):
            p = Place(code=f"CP{i}", kind="compound", name=f"小区{i}", grid_id=g.id)
            s.add(p)
            s.flush()
            s.add(AccessDevice(device_id=f"AC{i}", name=f"小区{i}门禁", secret=f"k{i}", place_id=p.id, grid_id=g.id,
                               community_id=g.community_id, kind="door" if i < 3 else "smoke"))


def _ticks(sim, start, n=50, step=600):
    return [sim.plan(start + timedelta(seconds=step * k)) for k in range(n)]


def test_same_seed_same_plan_and_apply(app_services):
    _, services = app_services
    _world(services)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    with services.db.read() as s:
        a, b = (GovernanceSimulator.from_db(s, seed=7, speed=60) for _ in range(2))
        c = GovernanceSimulator.from_db(s, seed=8, speed=60)
    pa, pb, pc = _ticks(a, start), _ticks(b, start), _ticks(c, start)
    assert [(p.activities, p.device_events) for p in pa] == [(p.activities, p.device_events) for p in pb]
    assert [(p.activities, p.device_events) for p in pa] != [(p.activities, p.device_events) for p in pc]
    assert sum(len(p.activities) for p in pa) > 0 and sum(len(p.device_events) for p in pa) > 0

    with services.db.read() as s:
        sim = GovernanceSimulator.from_db(s, seed=3, speed=12)
    plans = _ticks(sim, start, n=30)
    for k, p in enumerate(plans):
        sim.apply(p, db=services.db, now=start + timedelta(seconds=600 * k))
    n_acts = sum(len(p.activities) for p in plans)
    n_dev = sum(len(p.device_events) for p in plans)
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(GovernanceActivity)) == n_acts > 0
        assert s.scalar(select(func.count()).select_from(DeviceEvent)) == n_dev > 0
        kinds = set(s.scalars(select(DeviceEvent.kind)))
        assert "door_forced" in kinds
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.source == "device")) > 0
