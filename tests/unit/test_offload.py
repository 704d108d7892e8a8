"""``offload``: a CPU-bound call under gevent runs on a native thread, and the event loop keeps serving meanwhile."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from gevent import monkey
monkey.patch_all()
import time
import gevent
from dashboard.offload import cooperative, offload

ticks = []

def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)

gevent.spawn(tick)
gevent.sleep(0.05)

def burn():  # half a second of pure computation, touching nothing of gevent's
    t = time.perf_counter()
    while time.perf_counter() - t < 0.5:
        pass
    return 7

n = len(ticks)
got = {mode}(burn)
print(cooperative(), got, len(ticks) - n)
"""


@pytest.mark.parametrize("mode, turning", [("offload", True), ("(lambda f: f())", False)])
def test_the_event_loop_turns_during_an_offloaded_computation(mode, turning):
    r = subprocess.run([sys.executable, "-c", PROBE.format(mode=mode)], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    patched, result, ticks = r.stdout.split()
    assert patched == "True" and result == "7"
    # a ticker greenlet every 10 ms: ~50 ticks in 0.5 s when the loop turns; none when the call holds it
    assert (int(ticks) >= 10) is turning, ticks


def test_without_gevent_the_call_runs_in_place():
    from dashboard.offload import cooperative, offload

    assert not cooperative()
    assert offload(lambda a, b: a + b, 2, 3) == 5
