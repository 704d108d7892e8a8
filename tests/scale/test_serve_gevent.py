"""``python run.py`` (gevent, the default): the one-process server with each live socket on a greenlet (issue 26 item 1).

Werkzeug's threaded server (``--no-gevent``) gives a websocket four OS threads; the demo box topped out near 2,350
phones. By default the standard library is patched before anything imports it: gevent's WSGI server, the same SQLite
writer turns and background loops, but a held socket costs a greenlet. This drives the real command over real sockets.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer
from tests.security.test_live_channel import raw_socket
from tests.utils.page_client import demo_http
from tests.utils.wall_client import WallClient

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.timeout(240)]
HELD = 300


def os_threads(pid: int) -> int:
    return int(re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def test_gevent_serve_holds_sockets_without_threads_and_still_pushes_and_answers(tmp_path):
    srv = LiveServer(tmp_path, "--no-sim", env={"GC_SOCKET_PER_ADDR": "1000"}).start()
    held = []
    try:
        wall = WallClient(srv.url).start()
        threads_before = os_threads(srv.proc.pid)
        held = [raw_socket(srv.url) for _ in range(HELD)]
        threads_held = os_threads(srv.proc.pid)
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
            times.append(time.perf_counter() - t0)
        r = demo_http(srv.url).post(srv.url + "/api/v1/cases", json={
            "category_code": "0101", "lat": 34.2655, "lon": 108.9540, "description": "gevent 推送"}, timeout=10)
        assert r.status_code == 201, r.text
        case_id, deadline = r.json()["id"], time.monotonic() + 10

        def pushed() -> list[int]:  # seqs of this case's events that came by push, not by catch-up
            return [s for s in list(wall.pushed) if wall.events[s]["type"] == "case"
                    and wall.events[s]["payload"]["case"]["id"] == case_id]

        while time.monotonic() < deadline and not pushed():
            time.sleep(0.05)
        got = pushed()
        wall.sio.disconnect()
    finally:
        for ws in held:
            ws.close()
        srv.stop()
    # 300 more sockets: Werkzeug's threads would have added ~1,200 OS threads; greenlets add none
    assert threads_held - threads_before < 20, (threads_before, threads_held)
    assert got, "the report never reached the wall's socket"
    assert sorted(times)[-2] < 1.0, times


def _raw(url: str, data: bytes) -> bytes:
    import socket
    from urllib.parse import urlparse

    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        s.sendall(data)
        return s.recv(200)


def test_gevent_serve_answers_malformed_requests_with_4xx_and_keeps_serving(tmp_path):
    """gevent's WSGI server in front (a stranger's bytes reach it first): too many headers, an overlong request
    line or header, and bytes that are not HTTP get a 4xx and a closed connection, never a crash or a hang."""
    srv = LiveServer(tmp_path, "--no-sim").start()
    try:
        host = "Host: " + srv.url.split("//", 1)[1] + "\r\n"
        cases = {
            "200 headers": "GET /healthz HTTP/1.1\r\n" + host + "".join(f"X-A{i}: 1\r\n" for i in range(200)) + "\r\n",
            "long line": "GET /" + "a" * 20_000 + " HTTP/1.1\r\n" + host + "\r\n",
            "long header": "GET /healthz HTTP/1.1\r\n" + host + "X-Big: " + "b" * 70_000 + "\r\n\r\n",
            "not http": "\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n",
        }
        for name, data in cases.items():
            head = _raw(srv.url, data.encode("latin-1"))
            assert re.match(rb"HTTP/1\.[01] 4\d\d ", head), (name, head)
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        srv.stop()
