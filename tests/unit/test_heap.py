"""dashboard.heap.settle: start-up objects leave the cycle collector's passes; garbage made before is collected."""
import gc
import weakref

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
