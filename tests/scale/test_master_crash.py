"""``kill -9`` of the gunicorn master alone: its workers exit at once, so a restart can take the port (issue 26.4).

Before, orphaned workers kept serving (and holding the port) for ~21 s: gunicorn lets a worker whose master
died finish its open requests first, and a live socket never finishes.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.conftest import ROOT, free_port
from tests.utils.wall_client import WallClient

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def start_prod(deployment, tmp_path, port: int, tag: str) -> subprocess.Popen:
    env = {**os.environ, **deployment.env, "GC_PRODUCTION": "1", "GC_SECRET_KEY": uuid.uuid4().hex * 2,
           "GC_ALLOWED_HOSTS": f"127.0.0.1:{port}", "GC_DATA_DIR": str(tmp_path / "var")}
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--no-sim", "--port", str(port), "--db",
                             deployment.db_url, "prod", "--workers", "2", "--threads", "8"], cwd=ROOT, env=env,
                            stdout=open(tmp_path / f"prod-{tag}.log", "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def serving(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def wait(check, timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def test_workers_follow_their_killed_master_and_a_restart_takes_the_port(deployment, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start_prod(deployment, tmp_path, port, "first")
    restarted = None
    try:
        assert wait(lambda: serving(url), 150) is not None, (tmp_path / "prod-first.log").read_text()[-3000:]
        wall = WallClient(url, api_key=deployment.api_key()).start()  # an open socket: what kept orphans alive
        assert wall.sio.connected
        os.kill(first.pid, signal.SIGKILL)  # the master alone
        freed = wait(lambda: not port_taken(port), 10)
        assert freed is not None and freed < 3, f"orphaned workers held the port {freed} s after the master died"
        restarted = start_prod(deployment, tmp_path, port, "second")
        served = wait(lambda: serving(url), 150)
        assert served is not None, (tmp_path / "prod-second.log").read_text()[-3000:]
        print(f"port free {freed:.2f} s after kill -9 of the master; the restart served {served:.1f} s later")
        assert restarted.poll() is None
    finally:
        for proc in (first, restarted):
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
