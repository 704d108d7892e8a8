"""The city-scale generator, small: row counts, a consistent hierarchy, same seed → same city."""
from __future__ import annotations

import hashlib
import subprocess
import sys

from sqlalchemy import create_engine, func, select, text

from dashboard.db import Database, migrate
from dashboard.demodata.city import generate_city
from dashboard.models import Case, Grid, Worker
from tests.conftest import ROOT


def fingerprint(engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, category_code, state, grid_id, lat, lon FROM case_file "
                                 "ORDER BY id")).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_small_city_on_each_backend(db_url):
    db = Database(db_url)
    migrate(db.engine)
    counts = generate_city(db.engine, grids=400, workers=900, cases=6000, seed=7)
    assert counts["grid"] == 400 and counts["worker"] == 900 and counts["case_file"] == 6000
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 6000
        # every case in a grid of its community; every worker at home in a grid
        assert s.scalar(select(func.count()).select_from(Case).join(Grid, Grid.id == Case.grid_id)
                        .where(Grid.community_id != Case.community_id)) == 0
        assert s.scalar(select(func.count()).select_from(Worker).where(Worker.grid_id.is_(None))) == 0
        states = dict(s.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        assert states["closed"] > 4000 and sum(v for k, v in states.items() if k not in ("closed", "void")) > 100
        c = s.scalars(select(Case).where(Case.state == "dispatched").limit(1)).one()  # ORM reads it back
        assert c.sla_due_at > c.created_at and c.assigned_worker_id and c.closed_at is None
        codes = s.scalars(select(Case.code)).all()
        assert len(set(codes)) == 6000 and all(len(x) == 13 for x in codes)
    first = fingerprint(db.engine)
    db.dispose()
    if db_url.startswith("sqlite"):  # same seed, same city (a second database of the same backend)
        other = db_url.replace("test.db", "again.db")
        db2 = Database(other)
        migrate(db2.engine)
        generate_city(db2.engine, grids=400, workers=900, cases=6000, seed=7, now=None)
        assert fingerprint(db2.engine) == first
        db2.dispose()


def test_gen_city_cli_refuses_a_database_with_grids(tmp_path):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    run = [sys.executable, str(ROOT / "run.py"), "gen-city", "--db", url, "--grids", "50", "--workers", "60",
           "--cases", "500"]
    r = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "'case_file': 500" in r.stdout
    r = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "already holds grids" in r.stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM case_file")) == 500
    engine.dispose()
