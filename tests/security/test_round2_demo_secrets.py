"""Issue 25 item 10: demo device secrets.

The access-control devices' HMAC secrets were derived from the public seed and committed in data/, so any
database loaded with ``seed-demo`` accepted forged door events. Secrets are now random per load, shown once by
``seed-demo``, never in the repository; ``seed-demo`` refuses a production start unless asked explicitly; the
demo simulator still signs its door events (with the secrets it reads from the database).
"""
from __future__ import annotations

import csv
import hashlib
import hmac
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.models import Grid
from dashboard.models.governance import AccessDevice, DeviceEvent

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "xiyilu"
SEED = 20261129


def derived(device_id: str, seed: int = SEED) -> str:
    """The old, public derivation of a demo device's secret."""
    return hmac.new(f"gc-demo-{seed}".encode(), device_id.encode(), hashlib.sha256).hexdigest()[:32]


def device_ids() -> list[str]:
    with (DEMO / "access_devices.csv").open(encoding="utf-8-sig") as f:
        return [r["device_id"] for r in csv.DictReader(f)]


def test_no_device_secret_is_in_the_repository():
    with (DEMO / "access_devices.csv").open(encoding="utf-8-sig") as f:
        assert "secret" not in (csv.DictReader(f).fieldnames or [])
    ids = device_ids()
    assert len(ids) > 100
    texts = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (ROOT / "data").rglob("*")
                      if p.is_file() and p.suffix in (".csv", ".json", ".geojson", ".md", ".txt"))
    leaked = [d for d in ids if derived(d) in texts]
    assert leaked == [], leaked[:5]


def secrets_of(db_url: str) -> dict[str, str]:
    from dashboard.db import make_engine

    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return dict(s.execute(select(AccessDevice.device_id, AccessDevice.secret)).all())
    finally:
        engine.dispose()


def test_seed_demo_makes_random_secrets_and_shows_them_once(tmp_path, capsys, monkeypatch):
    import run

    monkeypatch.delenv("GC_PRODUCTION", raising=False)
    dbs = [f"sqlite:///{tmp_path / f'd{i}.db'}" for i in (1, 2)]
    outs = []
    for db in dbs:
        run.main(["--db", db, "--no-sim", "seed-demo"])
        outs.append(capsys.readouterr().out)
    one, two = (secrets_of(db) for db in dbs)
    assert set(one) == set(device_ids())
    assert all(len(v) == 32 and int(v, 16) >= 0 for v in one.values())
    assert not any(one[d] == two[d] for d in one)          # random per load
    assert not any(one[d] == derived(d) for d in one)      # not the public derivation
    for d, secret in list(one.items())[:5]:                # shown once, by the command that made them
        assert f"{d} {secret}" in outs[0]


def test_seed_demo_refuses_a_production_database_unless_asked(tmp_path, capsys, monkeypatch):
    import run

    db = f"sqlite:///{tmp_path / 'prod.db'}"
    monkeypatch.setenv("GC_PRODUCTION", "1")
    with pytest.raises(SystemExit) as e:
        run.main(["--db", db, "--no-sim", "seed-demo"])
    assert e.value.code != 0 and "--allow-production" in capsys.readouterr().err
    assert secrets_of(db) == {} if Path(tmp_path / "prod.db").exists() else True
    run.main(["--db", db, "--no-sim", "seed-demo", "--allow-production"])
    assert len(secrets_of(db)) == len(device_ids())


def test_the_demo_simulator_signs_with_the_secrets_in_the_database(demo_services):
    from dashboard.simulator_governance import GovernanceSimulator
    from dashboard.timeutil import SHANGHAI

    _, services = demo_services
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Grid)) > 0
        sim = GovernanceSimulator.from_db(s, seed=3, speed=12)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    n = 0
    for k in range(30):
        plan = sim.plan(start + timedelta(seconds=600 * k))
        n += len(plan.device_events)
        sim.apply(plan, db=services.db, now=start + timedelta(seconds=600 * k))
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(DeviceEvent)) == n > 0  # every signed event accepted
