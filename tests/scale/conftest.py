"""Scale and fault tests: real servers on the machine's PostgreSQL and Redis.

Every test here skips, saying why, when PostgreSQL or Redis is unreachable. Each
test gets its own database and its own Redis channel (pub/sub ignores the db
number, and other engineers' servers share this Redis).
"""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import (REDIS_URL, ROOT, LiveServer, fresh_pg_database, pg_available,
                            redis_available)


@pytest.fixture
def pg_redis():
    """Skip unless both PostgreSQL and Redis answer."""
    why = pg_available() or redis_available()
    if why:
        pytest.skip(why)


class Deployment:
    """One GridCommand deployment: a fresh PostgreSQL database, a Redis channel, N server processes."""

    def __init__(self, tmp_path, db_url: str) -> None:
        self.tmp = tmp_path
        self.db_url = db_url
        self.channel = f"gc-test-{uuid.uuid4().hex[:8]}"
        self.servers: list[LiveServer] = []
        self.key = ""

    @property
    def env(self) -> dict[str, str]:
        return {"GC_REDIS_URL": REDIS_URL, "GC_REDIS_CHANNEL": self.channel}

    def cli(self, *args: str) -> str:
        """``run.py --db URL <args>``; returns stdout (fails the test on a non-zero exit)."""
        r = subprocess.run([sys.executable, str(ROOT / "run.py"), "--db", self.db_url, *args], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    def api_key(self) -> str:
        """An integration-role key (made in the template database)."""
        return self.key

    def start(self, *args: str) -> LiveServer:
        srv = LiveServer(self.tmp, *args, env=self.env, db_url=self.db_url).start(timeout=60)
        self.servers.append(srv)
        return srv

    def stop_all(self) -> None:
        for srv in self.servers:
            srv.stop()


@pytest.fixture(scope="session")
def seeded_template():
    """Once per session: a PostgreSQL database with the demo street and an API key, to copy from."""
    why = pg_available() or redis_available()
    if why:
        pytest.skip(why)
    from dashboard.db import Database, migrate
    from dashboard.services.apikeys import create_api_key
    from dashboard.services.importers import load_demo

    url, drop = fresh_pg_database()
    db = Database(url)
    migrate(db.engine)
    with db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
        _, key = create_api_key(s, name="scale tests", role="integration")
    db.dispose()
    yield url.rsplit("/", 1)[1], key
    drop()


def copy_database(template: str) -> tuple[str, callable]:
    """A new database copied from ``template`` and a function that drops it."""
    return fresh_pg_database(template)


@pytest.fixture
def deployment(pg_redis, seeded_template, tmp_path):
    """A fresh deployment on PostgreSQL + Redis (demo street loaded); start servers with ``.start(...)``."""
    template, key = seeded_template
    url, drop = copy_database(template)
    dep = Deployment(tmp_path, url)
    dep.key = key
    yield dep
    dep.stop_all()
    try:
        drop()
    except Exception:
        pass  # PostgreSQL restarting under a destructive test: leave the database behind


def post_case(base: str, key: str, token: str, idem: str, *, timeout: float = 10) -> requests.Response:
    """Report one case through the field API with an idempotency key."""
    return requests.post(base + "/api/v1/cases", timeout=timeout,
                         headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
                         json={"category_code": "0101", "description": f"scale test {token}",
                               "lat": 34.2655, "lon": 108.9540})
