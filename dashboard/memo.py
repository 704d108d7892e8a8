"""A small time-limited memo for values that are costly to build and slow to change.

The wall's static map layers (301 polygons through plotly's figure classes), the 五治 panel's
indicators and the wall's statistics are built per page load and per refetch: with ten walls
those rebuilds were most of the server's time on a page load. They are kept here for a few
seconds to minutes; ``clear()`` drops everything after the data under them changed (grids
reloaded). A value is shared between callers: never mutate one you got from here.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable


class Memo:
    def __init__(self, max_entries: int = 256) -> None:
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = self.misses = 0

    def get(self, key: Hashable, ttl_s: float, make: Callable[[], Any]) -> Any:
        """The value under ``key`` if younger than ``ttl_s``, else ``make()`` (stored)."""
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and now - hit[0] < ttl_s:
                self.hits += 1
                return hit[1]
            self.misses += 1
        value = make()  # outside the lock: two callers may both build once; neither waits on the other
        with self._lock:
            self._data[key] = (now, value)
            if len(self._data) > self.max_entries:  # drop the oldest half
                for k, _ in sorted(self._data.items(), key=lambda kv: kv[1][0])[: len(self._data) // 2]:
                    del self._data[k]
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
