"""Shared fixtures: settings on a temp folder, app+services on SQLite or PostgreSQL, a live server.

Backends: tests that take the ``db_url`` fixture run on SQLite and on PostgreSQL
(``GC_TEST_PG_URL``, default the machine's ``test`` database; each test gets a
database of its own). Redis tests take ``redis_url`` (``GC_TEST_REDIS_URL``).
Without a reachable PostgreSQL or Redis those cases skip and say so on a developer's
box; under ``CI`` (set and not ``0``/``false``) a skipped ``postgres`` or ``redis``
test is a failure naming the missing service, so a suite cannot go green by skipping.
"""
from __future__ import annotations

import atexit
import functools
import os
import queue
import shutil
import sqlite3
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("GC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: skip, saying why
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}"


def redis_available() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"


SERVICES = {"postgres": "PostgreSQL (GC_TEST_PG_URL)", "redis": "Redis (GC_TEST_REDIS_URL)"}


def in_ci() -> bool:
    """True when the CI variable is set to something other than empty, 0 or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_collection_modifyitems(config, items):
    """A destructive test (it restarts PostgreSQL or Redis) is serial: scripts/test.sh runs it alone, after the
    parallel part, so no other test of the run loses its database or Redis under it."""
    for item in items:
        if item.get_closest_marker("destructive") is not None and item.get_closest_marker("serial") is None:
            item.add_marker(pytest.mark.serial)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skipped test that needs PostgreSQL or Redis fails, saying which service is missing."""
    report = yield
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        needs = [SERVICES[m] for m in SERVICES if item.get_closest_marker(m) is not None]
        if needs:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            report.outcome = "failed"
            report.longrepr = (f"CI=true and this test needs {' and '.join(needs)}, but it was skipped: {reason}\n"
                               "Start the service (scripts/test.sh does on the machine) or point the variable at it.")
    return report


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL; skips (fails under CI, being marked) when Redis does not answer."""
    why = redis_available()
    if why:
        pytest.skip(why)
    return REDIS_URL


def fresh_pg_database(template: str | None = None) -> tuple[str, callable]:
    """A new PostgreSQL database (empty, or a copy of ``template``) and a function that drops it."""
    import psycopg

    admin = PG_URL.replace("postgresql+psycopg", "postgresql")
    name = f"gc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(scope="session")
def migrated_pg_template():
    """Once per test process: a migrated, empty PostgreSQL database to copy. Running every migration on each
    test's own database cost ~2 s of ~3.5 a test, over 300 tests; a copy is then migrated in ~0.1 s (nothing to do)."""
    from sqlalchemy import create_engine

    from dashboard.db import migrate

    why = pg_available()
    if why:
        pytest.skip(why)
    url, drop = fresh_pg_database()
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()  # a template must have no connection while it is copied
    yield url.rsplit("/", 1)[1]
    drop()


# A test's PostgreSQL database is dropped behind it, not in its teardown: PostgreSQL 15 checkpoints on every DROP
# DATABASE (0.7–1.4 s beside the other test processes), time no test needs to wait for. One thread per process
# drops them in turn; the session's end waits until all are gone.
_drops: queue.Queue = queue.Queue()


def _dropper() -> None:
    while True:
        drop = _drops.get()
        try:
            drop()
        except Exception as exc:  # noqa: BLE001 - a database left behind must not fail an unrelated test
            print(f"tests/conftest.py: could not drop a test database: {exc}", file=sys.stderr)
        finally:
            _drops.task_done()


threading.Thread(target=_dropper, name="pg-dropper", daemon=True).start()


def pytest_sessionfinish(session, exitstatus):
    _drops.join()


@functools.cache
def _sqlite_template() -> Path:
    """This process's migrated, empty SQLite database, made on first use and removed at exit."""
    from dashboard.db import make_engine, migrate

    folder = Path(tempfile.mkdtemp(prefix="gc-test-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    engine = make_engine(f"sqlite:///{folder / 'template.db'}")
    migrate(engine)
    engine.dispose()
    return folder / "template.db"


def migrated_sqlite(path: Path) -> str:
    """A migrated, empty SQLite database at ``path`` (a copy of this process's template: each test running every
    migration cost ~0.25 s of a CPU, over 300 tests and the security worlds); its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(_sqlite_template()), sqlite3.connect(path)
    try:
        src.backup(dst)  # a consistent copy, whatever the journal holds
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh database URL on each backend: empty, or (for ``app_services``, which migrates it at once) a copy of
    a migrated template."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        yield migrated_sqlite(path) if "app_services" in request.fixturenames else f"sqlite:///{path}"
        return
    why = pg_available()
    if why:
        pytest.skip(why)
    template = request.getfixturevalue("migrated_pg_template") if "app_services" in request.fixturenames else None
    url, drop = fresh_pg_database(template)
    yield url
    _drops.put(drop)  # dropped behind the test (above)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.db'}"


def make_settings(db_url: str, tmp_path: Path, **kw):
    from dashboard.config import Settings

    return Settings.from_env({}, db_url=db_url, data_dir=tmp_path / "var", simulate=False, **kw)


@pytest.fixture
def app_services(db_url, tmp_path):
    """(flask_app, services) on a migrated, empty database; nothing running in the background."""
    from dashboard.app import create_app
    from dashboard.db import migrate

    from tests.utils.page_client import PageClient

    app, services = create_app(make_settings(db_url, tmp_path))
    app.test_client_class = PageClient  # sends the CSRF token as a page does (the demo operator needs it)
    migrate(services.db.engine)
    yield app, services
    services.shutdown()


@pytest.fixture
def demo_services(app_services):
    """(flask_app, services) with the demo street loaded."""
    from dashboard.services.importers import load_demo

    app, services = app_services
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    services.reload_grids()
    return app, services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python run.py`` in a subprocess on a free port and its own database."""

    def __init__(self, tmp_path: Path, *args: str, env: dict | None = None, db_url: str | None = None) -> None:
        self.port = free_port()
        self.tmp = tmp_path
        self.db_url = db_url or f"sqlite:///{tmp_path / 'live.db'}"
        self.args = list(args)
        # no demo history behind the start unless a test asks for it (GC_DEMO_HISTORY_DAYS): 8 days of it cost
        # ~7 s of a CPU in the server's first seconds, which every test would pay in latency
        self.env = {**os.environ, "GC_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1",
                    "GC_DEMO_HISTORY_DAYS": "0", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> "LiveServer":
        log = open(self.tmp / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(self.port),
                                      "--db", self.db_url, *self.args], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop(kill=True)  # never leave an unanswering server behind
        raise RuntimeError(f"server did not answer /healthz in {timeout}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return (self.tmp / f"server-{self.port}.log").read_text(errors="replace")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def live_server(tmp_path):
    """Factory: ``live_server("--no-sim")`` starts run.py; every server started is stopped after the test."""
    started: list[LiveServer] = []

    def start(*args: str, **kw) -> LiveServer:
        srv = LiveServer(tmp_path, *args, **kw).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run",
                 # video-call tests: fake camera/microphone, no permission prompt
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, no download) for the whole session.

    Playwright's sync API allows one running instance per thread, so every browser test
    shares this one and makes its own contexts.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
