"""A small time-limited memo for values that are costly to build and slow to change.

The wall's static map layers (301 polygons through plotly's figure classes), the 五治 panel's
indicators and the wall's statistics are built per page load and per refetch: with ten walls
those rebuilds were most of the server's time on a page load. They are kept here for a few
seconds to minutes; ``clear()`` drops everything after the data under them changed (grids
reloaded). A value is shared between callers: never mutate one you got from here.

One build per key at a time: callers asking for a key that is being built wait for that build
instead of starting their own. Ten walls refetch their figures after the same case event within
a few milliseconds; ten concurrent pandas builds held the GIL long enough to delay a report
being filed at that moment from ~10 ms to ~120 ms (p50).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable


class Memo:
    def __init__(self, max_entries: int = 256) -> None:
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._building: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = self.misses = 0

    def get(self, key: Hashable, ttl_s: float, make: Callable[[], Any],
            fresh: Callable[[Any], bool] | None = None) -> Any:
        """The value under ``key`` if younger than ``ttl_s`` (and ``fresh(value)`` when given), else
        ``make()`` (stored). While another caller builds ``key`` this one waits and takes that value."""
        while True:
            now = time.monotonic()
            with self._lock:
                hit = self._data.get(key)
                if hit is not None and now - hit[0] < ttl_s and (fresh is None or fresh(hit[1])):
                    self.hits += 1
                    return hit[1]
                building = self._building.get(key)
                if building is None:
                    self.misses += 1
                    building = self._building[key] = threading.Event()
                    break
            building.wait()  # another caller's build: look again when it is stored (or failed)
        try:
            value = make()
            with self._lock:
                self._data[key] = (now, value)
                if len(self._data) > self.max_entries:  # drop the oldest half
                    for k, _ in sorted(self._data.items(), key=lambda kv: kv[1][0])[: len(self._data) // 2]:
                        del self._data[k]
            return value
        finally:
            with self._lock:
                del self._building[key]
            building.set()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
