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
