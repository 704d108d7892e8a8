"""``run.py prod``: gunicorn gthread workers on PostgreSQL + Redis serve pages, API and websockets."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.conftest import ROOT, free_port
from tests.scale.conftest import post_case
from tests.utils.wall_client import WallClient

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def prod_server(deployment, tmp_path):
    port = free_port()
    log = open(tmp_path / "prod.log", "ab")
    env = {**os.environ, **deployment.env, "GC_PRODUCTION": "1", "GC_SECRET_KEY": uuid.uuid4().hex * 2,
           "GC_ALLOWED_HOSTS": f"127.0.0.1:{port}",
           "GC_DATA_DIR": str(tmp_path / "var"), "GC_SIM_SPEED": "3"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(port), "--db", deployment.db_url,
                             "prod", "--workers", "3", "--threads", "16"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 150
    while time.time() < deadline:
        assert proc.poll() is None, (tmp_path / "prod.log").read_text()[-3000:]
        try:  # every worker has built its app, and the port answers
            if (tmp_path / "prod.log").read_text().count("worker ready") == 3 and \
                    requests.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.3)
    else:
        pytest.fail("prod server did not answer: " + (tmp_path / "prod.log").read_text()[-3000:])
    yield url, proc, tmp_path / "prod.log"
    os.killpg(proc.pid, signal.SIGQUIT)  # quick shutdown of the gunicorn master and its workers
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_prod_serves_with_three_workers_and_one_simulator(deployment, prod_server):
    url, proc, log = prod_server
    key = deployment.api_key()
    assert requests.get(url + "/wall", timeout=20).status_code == 200
    walls = [WallClient(url, api_key=key).start() for _ in range(6)]  # spread over the workers by the kernel
    try:
        ids = []
        for i in range(6):  # each report is handled by whichever worker accepts it
            r = post_case(url, key, f"prod-{i}", f"idem-{uuid.uuid4().hex}")
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        deadline = time.time() + 15
        def seen(w):
            # pushed: an event overtaken by a later one may have been applied from the catch-up that gap started,
            # but its own push must still have reached every wall
            return {m["payload"]["case"]["id"] for s, m in w.events.items() if m["type"] == "case" and s in w.received}
        while time.time() < deadline and not all(set(ids) <= seen(w) for w in walls):
            time.sleep(0.1)
        for w in walls:
            assert set(ids) <= seen(w), f"a wall missed pushes: {set(ids) - seen(w)}"
    finally:
        for w in walls:
            w.close()
    text = log.read_text()
    assert text.count("this process leads") == 1, "the simulator must run in exactly one worker"
    assert text.count("worker ready") == 3
    assert proc.poll() is None
