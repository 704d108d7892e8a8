"""Round 4 (issue 31): grid notices and the residents' live channel attacked from outside. Every stranger can fetch
a resident ticket (GET /api/v1/r/grids/<id>/notices answers one), and a ticket opens an anonymous socket — so
what those sockets may take, hear and join is probed here through the real handshake gate."""
from __future__ import annotations

import json
import time

import pytest

from tests.security.conftest import build_world

CAP = 8


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path, with_pages=False, extra={"GC_SOCKET_MAX": str(CAP)})
    yield w
    w.services.shutdown()


def open_resident(w, addr: str) -> int:
    """A stranger's resident socket from ``addr``: a ticket from the public notices list, the polling handshake
    through the gate, then Socket.IO's CONNECT. The handshake's status."""
    c = w.app.test_client()
    env = {"REMOTE_ADDR": addr}
    t = c.get(f"/api/v1/r/grids/{w.ids['grid_a']}/notices?count=0", environ_base=env).get_json()["live"]["ticket"]
    r = c.get(f"/socket.io/?EIO=4&transport=polling&resident={t}", environ_base=env)
    if r.status_code == 200:
        sid = json.loads(r.data[1:])["sid"]
        c.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40", environ_base=env)
    return r.status_code


def test_strangers_resident_sockets_cannot_lock_the_wall_out(world):
    """Probe: resident sockets counted only against the address caps (20 a key, 200 an address) and the process cap,
    so a few addresses fetching tickets filled GC_SOCKET_MAX and the hall's wall got 503 (under `run.py prod` with
    gthread the cap is ~48 a worker: three addresses). Residents now hold at most half the process cap."""
    statuses = [open_resident(world, f"10.60.0.{i // 4}") for i in range(CAP + 2)]
    guard = world.services.socket_guard
    for _ in range(50):  # Socket.IO's CONNECT is handled on a background thread
        if guard.by_kind["resident"] >= statuses.count(200):
            break
        time.sleep(0.05)
    assert statuses.count(200) == CAP // 2 and set(statuses[CAP // 2:]) == {503}, statuses
    r = world.app.test_client().get("/socket.io/?EIO=4&transport=polling",
                                    headers={"X-API-Key": world.keys["display"]})
    assert r.status_code == 200 and r.data.startswith(b"0{"), r.data[:200]
