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


def test_one_ipv6_subscriber_holds_twenty_resident_sockets_not_twenty_per_address(tmp_path):
    """Probe: a resident socket counted under its full address, so a client choosing a new address in its /64 per
    handshake had no per-address cap at all. The 21st from one /64 is a 429."""
    w = build_world(tmp_path, with_pages=False)
    try:
        per_key = w.services.settings.socket_per_key
        statuses = [open_resident(w, f"2001:db8:99:1::{i + 1:x}") for i in range(per_key + 1)]
        guard = w.services.socket_guard
        for _ in range(50):
            if guard.by_kind["resident"] >= per_key:
                break
            time.sleep(0.05)
        assert statuses[:per_key] == [200] * per_key and statuses[per_key] == 429, statuses
        assert open_resident(w, "2001:db8:99:2::1") == 200  # the neighbour's /64
    finally:
        w.services.shutdown()


def test_a_case_photo_cannot_be_moved_into_a_notice(tmp_path):
    """Probe: a notice's picture is a staged upload's token, moved under notices/ — but a token already attached to a
    case was moved too: the case's photo (evidence, maybe a resident's face or door) went missing from the case and
    was served to anyone as a live notice's picture. A token that belongs to a case is a 422 naming picture."""
    import io

    from tests.api.conftest import jpeg_bytes

    w = build_world(tmp_path, with_pages=False)
    try:
        worker = w.client("worker")
        tok = worker.post("/api/v1/photos", data={"photo": (io.BytesIO(jpeg_bytes()), "p.jpg")},
                          content_type="multipart/form-data").get_json()["token"]
        from tests.security.conftest import POSITION_A

        r = worker.post("/api/v1/cases", json={"category_code": "0101", "description": "垃圾", "lat": POSITION_A[0],
                                               "lon": POSITION_A[1], "photos": [tok]})
        assert r.status_code in (200, 201), r.get_json()
        case_id = r.get_json()["id"]
        r = worker.post("/api/v1/notices", json={"scope": "grid", "title": "通知", "picture": tok})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "picture", (r.status_code, r.get_json())
        photos = w.client("dispatcher").get(f"/api/v1/cases/{case_id}").get_json()["photos"]
        assert photos and all(w.client("dispatcher").get(f"/api/v1/photos/{p}").status_code == 200 for p in photos)
    finally:
        w.services.shutdown()
