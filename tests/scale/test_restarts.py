"""Redis and PostgreSQL restart under a running server: pushing resumes; the API answers 503, then recovers.

Destructive: these restart the machine's own Redis / PostgreSQL, which other tests
share. Outages are kept to a few seconds and the service is always started again in
``finally``. Deselect while developing with ``-m "not destructive"``.
"""
from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import pg_available, redis_available
from tests.scale.conftest import post_case
from tests.utils.wall_client import WallClient, all_seqs

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.destructive]

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
               "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]


def pg_cluster(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *(
        ["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


def wait_until(check, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def new_idem() -> str:
    return f"idem-{uuid.uuid4().hex}"


def test_redis_restart_pushing_resumes(deployment):
    if not Path("/var/lib/redis").is_dir():
        pytest.skip("no local redis-server to restart (/var/lib/redis missing)")
    key = deployment.api_key()
    srv = deployment.start("--no-sim")
    wall = WallClient(srv.url).start()
    try:
        r = post_case(srv.url, key, "before", new_idem())
        assert r.status_code == 201
        assert wait_until(lambda: len(wall.pushed) > 0, 10), "no push before the restart"
        during = []
        try:
            subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], timeout=10)
            assert wait_until(lambda: redis_available() is not None, 5)
            for i in range(3):  # reports keep working without Redis; their pushes are lost
                r = post_case(srv.url, key, f"during-{i}", new_idem())
                assert r.status_code == 201, r.text
                during.append(r.json()["id"])
            time.sleep(1)
        finally:
            subprocess.run(REDIS_START, timeout=10)
            assert wait_until(lambda: redis_available() is None, 10), "Redis did not come back"
        restarted_at = time.time()
        received_before = len(wall.received)
        resumed = False
        while time.time() - restarted_at < 60 and not resumed:  # the listener backs off 1, 2, 4 … s
            post_case(srv.url, key, "after", new_idem())
            resumed = wait_until(lambda: len(wall.received) > received_before, 1.5)
        assert resumed, "pushing did not resume within 60 s of the Redis restart"
        upto = requests.get(srv.url + "/api/v1/events?limit=1", timeout=5).json()["last_seq"]
        assert wall.wait_for_seq(upto, 10)
        expected = all_seqs(srv.url, wall.start_seq, upto)
        applied = [s for s in wall.applied if s <= upto]
        assert len(applied) == len(set(applied)), "events applied twice"
        assert set(expected) <= set(applied), "events missed"
        # by the catch-up fetch, or by push if the publish was retried after Redis came back
        got_during = {m["payload"]["case"]["id"] for m in wall.events.values() if m["type"] == "case"}
        assert set(during) <= got_during, "the reports made while Redis was down did not reach the wall"
        assert srv.proc.poll() is None, "the server died"
    finally:
        wall.close()


def test_postgres_restart_answers_503_then_recovers(deployment):
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("no local PostgreSQL cluster to restart (/etc/postgresql missing)")
    key = deployment.api_key()
    srv = deployment.start("--no-sim")
    assert post_case(srv.url, key, "before", new_idem()).status_code == 201
    answers: list[requests.Response] = []
    try:
        pg_cluster("stop")
        for _ in range(2):
            answers.append(requests.get(srv.url + "/api/v1/events?after=0&limit=5", timeout=15))
            answers.append(post_case(srv.url, key, "during", new_idem(), timeout=15))
            answers.append(requests.get(srv.url + "/api/v1/snapshot", timeout=15))
        health = requests.get(srv.url + "/healthz", timeout=15)
    finally:
        pg_cluster("start")
    assert wait_until(lambda: pg_available() is None, 30), "PostgreSQL did not come back"
    for r in answers:
        assert r.status_code == 503, (r.request.method, r.request.url, r.status_code, r.text[:300])
        body = r.json()["error"]
        assert "database is unavailable" in body["message"]
        assert r.headers.get("Retry-After")
    assert health.status_code == 503 and health.json()["db"] == "unreachable"
    assert srv.proc.poll() is None, "the server died during the outage"
    # recovers by itself: the pool pings and reconnects
    assert wait_until(lambda: requests.get(srv.url + "/api/v1/events?limit=1", timeout=10).status_code == 200, 30)
    r = post_case(srv.url, key, "after", new_idem())
    assert r.status_code == 201, r.text
    assert requests.get(srv.url + "/healthz", timeout=10).json()["status"] == "ok"
