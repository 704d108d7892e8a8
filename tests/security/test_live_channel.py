"""The live channel is guarded like HTTP (issue 26, item 2): origin, identity, revocation, caps.

Each test drives a real ``python run.py`` over real websockets, as a page, a phone or an attacker would.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
import socketio
import websocket

from tests.conftest import ROOT, LiveServer
from tests.utils.wall_client import WallClient

pytestmark = pytest.mark.slow
NO_DEMO = {"GC_DEMO": "0"}


def create_key(db_url: str, tmp_path, name: str, role: str, env: dict | None = None) -> str:
    """A key made with the CLI against the server's database (printed as the last line)."""
    import os

    out = subprocess.run([sys.executable, str(ROOT / "run.py"), "--db", db_url, "create-api-key", "--name", name,
                          "--role", role], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GC_DATA_DIR": str(tmp_path / "var"), **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def raw_socket(url: str, headers: list[str] | None = None) -> websocket.WebSocket:
    """An Engine.IO websocket that has joined the default namespace (what a phone's client does)."""
    ws = websocket.create_connection(url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                                     header=headers or [], timeout=10)
    assert ws.recv().startswith("0")  # OPEN
    ws.send("40")
    assert ws.recv().startswith("40")  # CONNECT accepted
    return ws


def handshake_status(url: str, headers: dict | None = None) -> requests.Response:
    return requests.get(url + "/socket.io/?EIO=4&transport=polling", headers=headers or {}, timeout=10)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The default start: the demo operator on this machine, default caps."""
    srv = LiveServer(tmp_path_factory.mktemp("demo"), "--no-sim").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server without the demo operator, a process cap of 3, and keys made with the CLI."""
    tmp = tmp_path_factory.mktemp("guarded")
    db = f"sqlite:///{tmp / 'live.db'}"
    env = {**NO_DEMO, "GC_SOCKET_MAX": "3"}
    keys = {name: create_key(db, tmp, name, role, env) for name, role in
            (("wall 1", "display"), ("wall 2", "display"), ("ops admin", "admin"))}
    srv = LiveServer(tmp, "--no-sim", env=env, db_url=db).start()
    yield srv, keys
    srv.stop()


def test_a_foreign_origin_cannot_open_the_channel(demo_server):
    srv = demo_server
    assert handshake_status(srv.url, {"Origin": "http://evil.example"}).status_code == 400
    assert handshake_status(srv.url, {"Origin": srv.url}).status_code == 200  # the app's own pages
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(srv.url, transports=["websocket"], headers={"Origin": "http://evil.example"}, wait_timeout=5)


@pytest.mark.serial  # a /healthz p95 bound of 100 ms: run alone, not beside other workers' browsers
def test_200_idle_sockets_from_one_address_do_not_delay_healthz_and_the_201st_is_refused(demo_server):
    srv = demo_server
    held = [raw_socket(srv.url) for _ in range(200)]
    refused = handshake_status(srv.url)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
        times.append(time.perf_counter() - t0)
        time.sleep(0.02)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    held[0].close()
    time.sleep(0.5)
    held[0] = raw_socket(srv.url)  # a closed socket gives its place back
    for ws in held:
        ws.close()
    assert refused.status_code == 429 and refused.headers["Retry-After"], refused.text
    assert "address" in refused.json()["error"]["message"]
    assert p95 < 0.1, f"/healthz p95 {p95 * 1000:.0f} ms with 200 idle sockets"


def test_an_anonymous_socket_is_refused_at_the_handshake(guarded):
    srv, _ = guarded
    r = handshake_status(srv.url)
    assert r.status_code == 401 and "sign in" in r.json()["error"]["message"]
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        raw_socket(srv.url)
    assert err.value.status_code == 401


def test_a_revoked_display_keys_socket_closes_within_seconds(guarded):
    srv, keys = guarded
    wall = WallClient(srv.url, api_key=keys["wall 1"]).start()
    assert wall.sio.connected
    h = {"Authorization": f"Bearer {keys['ops admin']}"}
    (row,) = [k for k in requests.get(srv.url + "/api/v1/api-keys", headers=h, timeout=10).json()["keys"]
              if k["name"] == "wall 1"]
    wall.sio.reconnection = False  # a revoked key must not come back either
    t0 = time.monotonic()
    assert requests.delete(f"{srv.url}/api/v1/api-keys/{row['id']}", headers=h, timeout=10).status_code == 200
    while wall.sio.connected and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    closed_after = time.monotonic() - t0
    assert not wall.sio.connected and closed_after < 5, closed_after
    assert handshake_status(srv.url, {"Authorization": f"Bearer {keys['wall 1']}"}).status_code == 401


def test_the_process_wide_cap_answers_503(guarded):
    srv, keys = guarded
    auth = [f"Authorization: Bearer {keys['wall 2']}"]
    time.sleep(0.5)  # the revoked wall's socket (previous test) has given its place back
    held = [raw_socket(srv.url, auth) for _ in range(3)]
    r = handshake_status(srv.url, {"Authorization": f"Bearer {keys['wall 2']}"})
    ok = requests.get(srv.url + "/healthz", timeout=5).status_code
    for ws in held:
        ws.close()
    assert r.status_code == 503 and r.headers["Retry-After"], r.text
    assert json.loads(r.text)["error"]["status"] == 503
    assert ok == 200
