"""The page memo: a value is built once per time-to-live and dropped by clear()."""
from __future__ import annotations

import time

from dashboard.memo import Memo


def test_built_once_within_ttl_then_again():
    m, calls = Memo(), []
    make = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert m.get("k", 0.2, make) == 1 and m.get("k", 0.2, make) == 1
    assert (m.hits, m.misses) == (1, 1)
    time.sleep(0.25)
    assert m.get("k", 0.2, make) == 2
    m.clear()
    assert m.get("k", 10, make) == 3


def test_bounded():
    m = Memo(max_entries=8)
    for i in range(50):
        m.get(i, 60, lambda: i)
    assert len(m._data) <= 8
    assert m.get(49, 60, lambda: -1) == 49  # the newest survive


def test_one_build_at_a_time_callers_share_it():
    """Ten callers arriving together: one build, nine take its value (ten concurrent pandas builds once
    held the GIL long enough to delay a report being filed ten times over)."""
    import threading

    m, calls, got = Memo(), [], []
    gate = threading.Event()

    def make():
        calls.append(1)
        gate.wait(2)
        return len(calls)

    threads = [threading.Thread(target=lambda: got.append(m.get("k", 5, make))) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert got == [1] * 10 and len(calls) == 1


def test_fresh_rejects_a_stored_value_and_a_failed_build_frees_the_key():
    m = Memo()
    assert m.get("k", 60, lambda: {"seq": 5}) == {"seq": 5}
    assert m.get("k", 60, lambda: {"seq": 9}, fresh=lambda v: v["seq"] >= 5) == {"seq": 5}
    assert m.get("k", 60, lambda: {"seq": 9}, fresh=lambda v: v["seq"] >= 7) == {"seq": 9}

    def boom():
        raise RuntimeError("db gone")

    try:
        m.get("x", 60, boom)
    except RuntimeError:
        pass
    assert m.get("x", 60, lambda: 1) == 1  # not left "being built" forever
