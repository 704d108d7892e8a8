"""Issue 26 item 3: one-fix /osmand at city rate. The lean paths (the main port's WSGI edge in front of Flask and the
dedicated port's event loop) still commit before they answer, still refuse what the security rounds refuse with a
4xx naming the field, and still spend the per-device budget.

The world is production-like (tests/security/conftest.py): worker A's device is DEV1, worker B's DEV2.
"""
from __future__ import annotations

import json
import socket
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from dashboard.models import Position
from dashboard.services.group_commit import DeviceBudget
from tests.security.conftest import build_world


@pytest.fixture
def w(tmp_path):
    world = build_world(tmp_path, with_pages=False, extra={"GC_RATE_OSMAND": "40/60"})
    # the device budget is a sliding window on the wall clock: a test that crossed a minute boundary would
    # find the last minute's fixes partly forgiven (120/60 frees two a second); pinned mid-window instead
    world.app.extensions["gc_osmand_group_commit"].limits.clock = lambda: 1_800_000_030.0
    yield world
    world.services.shutdown()


@pytest.fixture
def port(w):
    from dashboard.api.osmand import serve_dedicated

    p = serve_dedicated(w.services, "127.0.0.1", 0, w.app.extensions["gc_osmand_group_commit"])
    yield p.port
    w.services.stop.set()  # the loop closes within a second; the thread is a daemon


def spot(w, tag: str = "a") -> tuple[float, float]:
    from dashboard.models import Grid
    from tests.utils.factories import grid_center

    with w.services.db.read() as s:
        return grid_center(s.get(Grid, w.ids[f"grid_{tag}"]))


class Conn:
    """One keep-alive connection speaking raw HTTP/1.1 (as a phone's client library does)."""

    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, raw: bytes) -> None:
        self.s.sendall(raw)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            rest += self.s.recv(65536)
        self.buf = rest[n:]
        return int(lines[0].split(" ")[1]), headers, rest[:n]

    def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        self.send(f"GET {target} HTTP/1.1\r\nHost: phone\r\n\r\n".encode())
        return self.answer()

    def post(self, target: str, body: bytes, ctype: str = "application/x-www-form-urlencoded"
             ) -> tuple[int, dict[str, str], bytes]:
        self.send(f"POST {target} HTTP/1.1\r\nHost: phone\r\nContent-Type: {ctype}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return self.answer()

    def close(self) -> None:
        self.s.close()


def field(body: bytes) -> str | None:
    return json.loads(body)["error"]["field"]


def stored(w, tag: str = "a") -> int:
    with w.services.db.read() as s:
        return s.scalar(select(func.count()).select_from(Position).where(Position.worker_id == w.ids[f"worker_{tag}"]))


def test_every_acknowledged_fix_is_committed_when_the_answer_arrives(w, port):
    """Read through a connection of its own (not the app's): what a 200 promised is already in the database."""
    la, lo = spot(w)
    other = create_engine(str(w.services.db.engine.url))
    t0 = int(time.time()) - 3000
    conns = [Conn(port) for _ in range(4)]
    try:
        for i in range(8):
            for k, c in enumerate(conns):  # four phones at once: their fixes share a group commit
                ts = t0 + i * 4 + k
                c.send(f"GET /?id={'DEV1' if k % 2 == 0 else 'DEV2'}&lat={la}&lon={lo}&timestamp={ts} HTTP/1.1\r\n"
                       f"Host: phone\r\n\r\n".encode())
            for k, c in enumerate(conns):
                status, headers, body = c.answer()
                assert status == 200 and body == b"" and headers["connection"] == "keep-alive"
                ts = t0 + i * 4 + k
                with other.connect() as db:
                    n = db.execute(text("SELECT count(*) FROM position p JOIN worker w ON w.id = p.worker_id "
                                        "WHERE w.device_id = :d AND p.lat = :lat AND p.source = 'osmand'"),
                                   {"d": "DEV1" if k % 2 == 0 else "DEV2", "lat": la}).scalar()
                assert n >= i * 2 + (k // 2) + 1, (i, k, n)
    finally:
        for c in conns:
            c.close()
        other.dispose()
    assert stored(w, "a") == 1 + 16 and stored(w, "b") == 1 + 16  # the world's own fix, plus these


def test_pipelined_requests_are_answered_in_order_and_the_form_body_style_works(w, port):
    la, lo = spot(w)
    t0 = int(time.time()) - 2000
    c = Conn(port)
    body = f"id=DEV1&lat={la}&lon={lo}&timestamp={t0}".encode()
    c.send(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           f"Content-Length: {len(body)}\r\n\r\n".encode() + body
           + f"GET /?id=nobody&lat={la}&lon={lo} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
           + f"GET /any/path?id=DEV1&lat={la}&lon={lo}&timestamp={t0 + 1} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    first, second, third = c.answer(), c.answer(), c.answer()
    assert (first[0], second[0], third[0]) == (200, 400, 200)
    assert field(second[2]) == "id" and "nobody" in json.loads(second[2])["error"]["message"]
    c.close()
    assert stored(w, "a") == 1 + 2


@pytest.mark.parametrize("raw,status,name", [
    (b"GET /?id=DEV1&lat=91&lon=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "lat"),
    (b"GET /?id=DEV1&lat=34.2&lon=abc HTTP/1.1\r\nHost: x\r\n\r\n", 400, "lon"),
    (b"GET /?lat=34.2&lon=108.9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "id"),
    (b"GET /?id=DEV1&lat=34.2&lon=108.9&timestamp=99999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "timestamp"),
    (b"GET /?id=DEV1&lat=34.2&lon=108.9&batt=101 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "batt"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{]", 400, "body"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 39\r\n\r\n"
     b'{"device_id": "nobody", "location": {}}', 400, "location.timestamp"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nid=DE\r\n0\r\n\r\n", 411,
     "Transfer-Encoding"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", 413, "body"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n", 400, "Content-Length"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"),
    (b"PUT /?id=DEV1&lat=1&lon=2 HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method"),
    (b"GET /?id=DEV1 HTTP/2.0\r\nHost: x\r\n\r\n", 400, "request"),
    (b"GET /?id=DEV1&lat=1&lon=2 HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n", 400, "headers"),
    (b"GET /?id=DEV1 HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "headers"),
])
def test_bad_requests_are_4xx_naming_the_field_and_store_nothing(w, port, raw, status, name):
    c = Conn(port)
    c.send(raw)
    got, headers, body = c.answer()
    assert got == status and field(body) == name, body
    assert headers["content-type"].startswith("application/json") and headers["x-content-type-options"] == "nosniff"
    c.close()
    assert stored(w, "a") == 1


def test_the_per_device_budget_is_one_for_both_ports(w, port):
    """GC_RATE_OSMAND=40/60: the main port's edge and the dedicated port draw on one budget per device."""
    la, lo = spot(w)
    t0 = int(time.time()) - 1000
    main = w.app.test_client()
    codes = [main.get(f"/osmand?id=DEV1&lat={la}&lon={lo}&timestamp={t0 + i}").status_code for i in range(30)]
    assert codes == [200] * 30
    c = Conn(port)
    codes = [c.get(f"/?id=DEV1&lat={la}&lon={lo}&timestamp={t0 + 100 + i}")[0] for i in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
    status, headers, body = c.get(f"/?id=DEV1&lat={la}&lon={lo}&timestamp={t0 + 200}")
    assert status == 429 and int(headers["retry-after"]) >= 1 and field(body) == "id"
    assert c.get(f"/?id=DEV2&lat={la}&lon={lo}&timestamp={t0}")[0] == 200  # another device: its own budget
    c.close()
    assert stored(w, "a") == 1 + 40


def test_a_device_token_is_still_required_on_the_dedicated_port(w, port):
    la, lo = spot(w)
    token = w.client("admin").post(f"/api/v1/workers/{w.ids['worker_a']}/device-token").get_json()["token"]
    c = Conn(port)
    status, headers, body = c.get(f"/?id=DEV1&lat={la}&lon={lo}&timestamp={int(time.time()) - 5}")
    assert status == 401 and field(body) == "token" and "basic" in headers["www-authenticate"].lower()
    assert c.get(f"/?id=DEV1&lat={la}&lon={lo}&timestamp={int(time.time()) - 4}&token={token}")[0] == 200
    c.close()
    assert stored(w, "a") == 2


def test_the_main_port_edge_keeps_the_host_check_and_the_origin_rule(w):
    la, lo = spot(w)
    c = w.app.test_client()
    r = c.get(f"/osmand?id=DEV1&lat={la}&lon={lo}", headers={"Host": "evil.example"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "Host"
    r = c.post("/osmand", data=f"id=DEV1&lat={la}&lon={lo}", content_type="application/x-www-form-urlencoded",
               headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "X-CSRF-Token"
    assert stored(w, "a") == 1
    r = c.get(f"/osmand?id=DEV1&lat={la}&lon={lo}&timestamp={int(time.time()) - 3}")
    assert r.status_code == 200 and r.data == b"" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in r.headers  # no session, no CSRF cookie: a phone keeps none
    assert c.put("/osmand").status_code == 405
    assert stored(w, "a") == 2


def test_device_budget_is_a_sliding_window_and_says_when_to_retry():
    now = [600.0]  # the start of a 60 s window
    b = DeviceBudget(10, 60, clock=lambda: now[0])
    assert b.take("OSMAND", "d", 6) and b.take("OSMAND", "d", 4) and not b.take("OSMAND", "d")
    assert b.take("OSMAND", "other", 10)  # per device
    assert b.retry_after("OSMAND", "d") == 60
    now[0] += 60  # the next window: the last one still weighs fully at its start
    assert not b.take("OSMAND", "d")
    now[0] += 30  # half of it has passed: 10 × 0.5 = 5 used
    assert b.take("OSMAND", "d", 5) and not b.take("OSMAND", "d")
    assert 1 <= b.retry_after("OSMAND", "d") <= 30
    now[0] += 120  # silent for two windows: a full budget again, and the old counts are forgotten
    assert b.take("OSMAND", "d", 10)
    assert "other" not in b._w


def test_run_py_prod_answers_osmand_on_its_dedicated_port_by_the_listening_port(w):
    """run.py prod --osmand-port: gunicorn listens on both ports; SERVER_PORT (the listening socket, never a header)
    picks the OsmAnd endpoint, on any path, with the same checks and budget as /osmand."""
    from werkzeug.test import Client

    from dashboard.api.osmand import by_port

    la, lo = spot(w)
    app = by_port(w.app, w.services, w.app.extensions["gc_osmand_group_commit"], 5055)
    c = Client(app)
    on = {"SERVER_PORT": "5055"}
    r = c.get(f"/any/path?id=DEV1&lat={la}&lon={lo}&timestamp={int(time.time()) - 9}", environ_overrides=on,
              headers={"Host": "10.0.0.5:5055"})  # phones use the address: no Host check on this port
    assert r.status_code == 200 and r.data == b""
    r = c.get(f"/?id=nobody&lat={la}&lon={lo}", environ_overrides=on)
    assert r.status_code == 400 and json.loads(r.data)["error"]["field"] == "id"
    assert c.put("/", environ_overrides=on).status_code == 405
    # the main port is the whole app, with its Host check
    assert c.get("/healthz", environ_overrides={"SERVER_PORT": "8050"}).status_code in (200, 503)
    r = c.get(f"/osmand?id=DEV1&lat={la}&lon={lo}", environ_overrides={"SERVER_PORT": "8050"},
              headers={"Host": "evil.example"})
    assert r.status_code == 400 and json.loads(r.data)["error"]["field"] == "Host"
    assert stored(w, "a") == 2
