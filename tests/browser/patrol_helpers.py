"""Shared by the patrol / video-call / drill-down browser tests: a live server that may take its time to
start on a busy machine (the suite's fixture gives up after 40 s; these pages need the full demo street)."""
from __future__ import annotations

import pytest

from tests.conftest import LiveServer

START_TIMEOUT_S = 180


@pytest.fixture
def patient_server(tmp_path):
    """Factory like ``live_server``: ``patient_server("--no-sim", env={...})``; stopped after the test."""
    started: list[LiveServer] = []

    def start(*args: str, **kw) -> LiveServer:
        srv = LiveServer(tmp_path, *args, **kw).start(timeout=START_TIMEOUT_S)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
