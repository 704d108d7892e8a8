"""dashboard.heap.settle: start-up objects leave the cycle collector's passes; garbage made before is collected."""
import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from dashboard.heap import settle


class Node:
    pass


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_settle_freezes_what_is_alive_and_collects_cycles_first(unfrozen):
    kept = {"grid": [1, 2, 3]}  # a long-lived container, as start-up builds
    cycle = Node()
    cycle.me = cycle  # garbage that only the collector can free
    probe = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()
    frozen = settle()
    # other threads of the test process may drop frozen objects meanwhile (refcounting frees them): never more
    assert before < gc.get_freeze_count() <= frozen
    live = {id(o) for o in gc.get_objects()}  # generations 0–2: what later collections walk
    assert id(kept) not in live and id(kept["grid"]) not in live
    assert probe() is None  # the cycle was collected, not frozen
    made_after = [kept]
    assert any(o is made_after for o in gc.get_objects())  # new objects are collected as usual


FULL_PASSES = """
import gc
import sys
from dashboard.heap import settle

if sys.argv[1] == "settled":
    settle()
passes = {0: 0, 1: 0, 2: 0}
gc.callbacks.append(lambda phase, info: phase == "start" and passes.__setitem__(
    info["generation"], passes[info["generation"]] + 1))
kept = []
for i in range(400_000):  # connections arriving: objects that live on, as sockets and their greenlets do
    kept.append([i])
print(passes[1], passes[2])
"""


@pytest.mark.parametrize("mode", ["settled", "default"])
def test_after_settle_the_growing_heap_is_not_walked_every_few_seconds(mode):
    """At 5,000 phones a full collection walked every socket's objects for 0.8 s every ~10 s (a task pushed to a
    phone waited for it): after settle() a full collection waits for FULL_EVERY middle-generation ones."""
    r = subprocess.run([sys.executable, "-c", FULL_PASSES, mode], cwd=Path(__file__).resolve().parents[2],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    middle, full = (int(x) for x in r.stdout.split())
    assert middle >= 30, middle  # the collector ran (a test that cannot fail otherwise)
    assert (full == 0) is (mode == "settled"), (middle, full)  # Python's default: a full pass every 10 or so
