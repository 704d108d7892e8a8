"""In-process token buckets: a burst of ``capacity`` requests, refilled at ``rate`` per second.

Per process: behind several workers each one allows its own budget (nginx may add a
shared limit, docs/DEPLOY.md). Buckets idle long enough to be full again are dropped.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    """Buckets by key; ``take(key)`` is True while the key has budget left."""

    capacity: float
    rate: float  # tokens per second
    clock: object = time.monotonic
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, cost: float = 1.0) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            ok = tokens >= cost
            self._state[key] = (tokens - cost if ok else tokens, now)
            if len(self._state) > 10_000:
                self._sweep(now)
            return ok

    def retry_after(self, key: str) -> int:
        """Seconds until one token is back for ``key``."""
        tokens, _ = self._state.get(key, (self.capacity, 0.0))
        return max(1, int((1 - tokens) / self.rate + 0.999)) if self.rate > 0 else 3600

    def _sweep(self, now: float) -> None:
        full = (self.capacity / self.rate) if self.rate > 0 else float("inf")
        for k in [k for k, (_, last) in self._state.items() if now - last > full]:
            del self._state[k]


def parse_limit(text: str) -> tuple[float, float]:
    """'10/60' → capacity 10 per 60 s → (10, 10/60); 'off' → unlimited."""
    if text.strip().lower() in {"off", "0", ""}:
        return float("inf"), float("inf")
    count, _, per = text.partition("/")
    n, seconds = float(count), float(per or 60)
    if n <= 0 or seconds <= 0:
        raise ValueError(f"rate limit must be N/seconds, got {text!r}")
    return n, n / seconds
