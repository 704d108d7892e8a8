"""The simulator plants real anomalies in a simulated day (dashboard/simulator_anomalies.py), and the rules turn
each into one alert: a burst in one grid → one spike alert that updates; an SOS pressed twice → one alert, count 2;
a door held open at night → one alert. Everything else the simulated street does raises nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from dashboard.models import Alert, Case, Grid
from dashboard.services.rules import RuleConfig, run_pass
from dashboard.simulator import Simulator
from dashboard.simulator_anomalies import BURST_CASES
from tests.conftest import ROOT, make_settings

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # Wednesday 10:00 Asia/Shanghai: day shift, busy hour
NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)  # 23:00


def _demo(tmp_path: Path):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from dashboard.services.importers import load_demo

    _, services = create_app(make_settings(f"sqlite:///{tmp_path / 'planted.db'}", tmp_path / "planted"))
    migrate(services.db.engine)
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    services.reload_grids()
    return services


def test_a_simulated_half_hour_at_speed_60_raises_the_planted_anomalies_and_nothing_else(tmp_path):
    services = _demo(tmp_path)
    with services.db.read() as s:
        sim = Simulator.from_db(s, seed=7, speed=60)
    cfg = RuleConfig(time_scale=60)
    open_counts = []
    for i in range(36):  # 36 s of clock = 36 simulated minutes
        now = T0 + timedelta(seconds=i)
        sim.apply(sim.plan(now), db=services.db, locator=services.locator, calendar=services.calendar, now=now)
        if i % 2 == 0:  # the rules' interval at speed 60: max(2 s, 30 s / 60)
            run_pass(services.db, now=now, calendar=services.calendar, config=cfg)
            with services.db.read() as s:
                open_counts.append(len(list(s.scalars(select(Alert.id).where(Alert.state != "resolved")))))
    run_pass(services.db, now=T0 + timedelta(seconds=36), calendar=services.calendar, config=cfg)
    [(t_burst, _, burst_grid)] = [x for x in sim.planted.log if x[1] == "burst"]
    [(t_sos, _, sos_worker)] = [x for x in sim.planted.log if x[1] == "sos"]
    assert 600 <= t_burst < 700 and 1800 <= t_sos < 1900
    assert not [x for x in sim.planted.log if x[1] == "door"]  # 10:00 is not night
    with services.db.read() as s:
        burst = list(s.scalars(select(Case).where(Case.description.like("%发现%"), Case.grid_id == burst_grid)))
        alerts = list(s.scalars(select(Alert).order_by(Alert.id)))
    assert len(burst) >= BURST_CASES
    by_kind = {}
    for a in alerts:
        by_kind.setdefault(a.kind, []).append(a)
    [spike] = by_kind.pop("case_spike")
    assert spike.grid_id == burst_grid and spike.repeat_count > 1 and spike.state == "new"
    assert spike.data["count"] >= BURST_CASES and spike.severity == "severe"
    with services.db.read() as s:
        grid = s.get(Grid, burst_grid)
    assert spike.title == f"{grid.name} 事件激增" and f"网格编码 {grid.code}" in spike.description
    sos = [a for a in by_kind.pop("sos") if a.worker_id == sos_worker]
    assert len(sos) == 1 and sos[0].repeat_count == 2  # pressed twice, one alert
    # the ordinary simulation's random SOS (3 a day) may add one; nothing else is alerted
    assert set(by_kind) <= {"sos"} and sum(len(v) for v in by_kind.values()) <= 1
    assert max(open_counts) <= 3


def test_a_door_held_open_is_planted_at_night_only(tmp_path):
    services = _demo(tmp_path)
    with services.db.read() as s:
        day = Simulator.from_db(s, seed=7, speed=60)
        night = Simulator.from_db(s, seed=7, speed=60, hour=23)
    for sim, t0 in ((day, T0), (night, NIGHT)):
        for i in range(50):
            sim.plan(t0 + timedelta(seconds=i))
    assert not [x for x in day.planted.log if x[1] == "door"]
    [(t_door, _, _)] = [x for x in night.planted.log if x[1] == "door"]
    assert 2700 <= t_door < 2800
    # sent through the signed webhook at night: one alert, "夜间门禁长时间未关"
    with services.db.read() as s:
        night2 = Simulator.from_db(s, seed=7, speed=60, hour=23)
    for i in range(50):
        acts = night2.plan(NIGHT + timedelta(seconds=i))
        if acts.device_events:
            night2.planted.apply_events(acts.device_events, db=services.db, now=NIGHT + timedelta(seconds=i))
            break
    with services.db.read() as s:
        [door] = list(s.scalars(select(Alert).where(Alert.kind == "door_held_open")))
    assert "夜间门禁长时间未关" in door.title and door.text_key == "alert.text.device_long"
    assert "20 分钟" in door.description
