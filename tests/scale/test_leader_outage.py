"""Leader election, the 503 answer while the database is down, and the production start-up checks."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from dashboard.config import Settings
from dashboard.leader import Leadership
from server import production_problems
from tests.conftest import ROOT, fresh_pg_database, pg_available


def test_sqlite_process_always_leads(tmp_path):
    stop = threading.Event()
    terms: list[threading.Event] = []
    lead = Leadership(f"sqlite:///{tmp_path / 'x.db'}", stop)
    lead.run(terms.append)
    assert lead.is_leader and len(terms) == 1 and terms[0] is stop


@pytest.mark.postgres
def test_postgres_elects_exactly_one_and_fails_over():
    why = pg_available()
    if why:
        pytest.skip(why)
    url, drop = fresh_pg_database()
    stops = [threading.Event(), threading.Event(), threading.Event()]
    elected: list[tuple[int, threading.Event]] = []
    leads = [Leadership(url, stop, retry_s=0.2) for stop in stops]
    try:
        for i, lead in enumerate(leads):
            lead.run(lambda term, i=i: elected.append((i, term)))
        time.sleep(1.5)
        assert len(elected) == 1, elected
        first, term = elected[0]
        assert [lead.is_leader for lead in leads].count(True) == 1
        stops[first].set()  # the leader shuts down: its term ends and its lock goes with its connection
        assert term.wait(2)
        deadline = time.time() + 5
        while len(elected) < 2 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)
        assert len(elected) == 2, elected
        assert elected[1][0] != first
        assert [lead.is_leader for lead in leads].count(True) == 1
    finally:
        for stop in stops:
            stop.set()
        time.sleep(0.5)
        drop()


def _failing_read(exc: Exception):
    class Broken:
        def __enter__(self):
            raise exc

        def __exit__(self, *a):
            return False

    return lambda: Broken()


def test_database_outage_is_a_503_with_a_clear_message(app_services, monkeypatch):
    app, services = app_services
    down = OperationalError("SELECT 1", {}, Exception("connection refused"))
    monkeypatch.setattr(services.db, "read", _failing_read(down))
    client = app.test_client()
    for path in ("/api/v1/events?after=0", "/api/v1/snapshot"):
        r = client.get(path)
        assert r.status_code == 503, (path, r.status_code)
        assert r.is_json and "database is unavailable" in r.get_json()["error"]["message"]
        assert r.headers["Retry-After"] == "5"


def test_a_real_database_error_stays_a_500(app_services, monkeypatch):
    app, services = app_services
    app.config["PROPAGATE_EXCEPTIONS"] = False
    bug = IntegrityError("INSERT", {}, Exception("duplicate key"))
    monkeypatch.setattr(services.db, "read", _failing_read(bug))
    r = app.test_client().get("/api/v1/events?after=0")
    assert r.status_code == 500


def test_production_settings_are_checked():
    ok = Settings.from_env({"GC_PRODUCTION": "1", "GC_SECRET_KEY": "k" * 32, "GC_ALLOWED_HOSTS": "cmd.example"})
    assert production_problems(ok) == []
    assert production_problems(Settings.from_env({})) == []  # not production: no demands
    problems = production_problems(Settings.from_env({"GC_PRODUCTION": "1", "GC_DEBUG": "1",
                                                      "GC_ALLOWED_HOSTS": "cmd.example"}))
    assert len(problems) == 2
    assert any("GC_DEBUG" in p for p in problems) and any("GC_SECRET_KEY" in p for p in problems)


@pytest.mark.parametrize("env, says", [
    ({"GC_DEBUG": "1", "GC_SECRET_KEY": "k" * 32}, "GC_DEBUG"),
    ({}, "GC_SECRET_KEY"),
    ({"GC_SECRET_KEY": "k" * 32}, "GC_REDIS_URL"),
])
def test_run_py_prod_refuses_to_start(env, says, tmp_path):
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("GC_")}
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "prod", "--workers", "2", "--db",
                        f"sqlite:///{tmp_path / 'x.db'}"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**clean, "GC_DATA_DIR": str(tmp_path), **env})
    assert r.returncode == 2
    assert "refusing to start in production" in r.stderr and says in r.stderr
    assert "Traceback" not in r.stderr
