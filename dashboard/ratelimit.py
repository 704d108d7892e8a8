"""Rate limits by name and key, on the ``limits`` library (the engine behind Flask-Limiter).

Each limit is "N/seconds" (or "off") and counted with a sliding-window counter. Limits named in
``shared`` are kept in Redis when the server has one (``GC_REDIS_URL``), so every worker process
and box draws on one budget — that matters for sign-in and public reports, where a per-process
budget would multiply what an attacker gets. The rest (device fixes and webhooks: one request per
device every few seconds, on the hot path) stay in process memory: a Redis round trip per fix
would cost more than the limit protects. If Redis is unreachable a shared limit falls back to the
process's own memory (and says so in the log) rather than refusing or admitting everyone.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)


def client_key(addr: str | None) -> str:
    """What a per-address limit counts a client address under: IPv4 as it is, IPv6 by its /64. A phone or a home line
    holds a whole /64 (China's mobile networks give every phone one) and may send from any address in it, so counting
    full IPv6 addresses gave one subscriber a fresh budget per request. An IPv4-mapped address is its IPv4 address."""
    a = addr or "?"
    if ":" not in a:
        return a
    try:
        ip = ipaddress.IPv6Address(a.split("%", 1)[0])
    except ValueError:
        return a
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


def parse_limit(text: str) -> RateLimitItem | None:
    """'10/60' → 10 per 60 s; 'off' (or '0', '') → None (unlimited)."""
    if text.strip().lower() in {"off", "0", ""}:
        return None
    count, _, per = text.partition("/")
    try:
        n, seconds = int(count), int(float(per or 60))
    except ValueError:
        raise ValueError(f"rate limit must be N/seconds, got {text!r}") from None
    if n <= 0 or seconds <= 0:
        raise ValueError(f"rate limit must be N/seconds, got {text!r}")
    return RateLimitItemPerSecond(n, seconds)


class RateLimits:
    """``take(name, key)`` is True while ``key`` has budget left under the limit called ``name``."""

    def __init__(self, limits: dict[str, str], *, redis_url: str | None = None,
                 shared: frozenset[str] = frozenset()) -> None:
        self.items = {name: parse_limit(text) for name, text in limits.items()}
        self._local = SlidingWindowCounterRateLimiter(storage_from_string("memory://"))
        self._shared = None
        self.shared_names = frozenset(shared) if redis_url else frozenset()
        if redis_url and self.shared_names:
            store = storage_from_string(redis_url, key_prefix="gc-rate", socket_timeout=0.5,
                                        socket_connect_timeout=0.5)
            self._shared = SlidingWindowCounterRateLimiter(store)
        self._warned = False

    def where(self, name: str) -> str:
        """'redis' or 'memory': where this limit is counted."""
        return "redis" if self._shared is not None and name in self.shared_names else "memory"

    def _limiter(self, name: str):
        return self._shared if self.where(name) == "redis" else self._local

    def _call(self, name: str, method: str, *args, **kw):
        try:
            return getattr(self._limiter(name), method)(*args, **kw)
        except Exception as exc:  # Redis down: count in this process until it is back
            if self._limiter(name) is self._local:
                raise
            if not self._warned:
                log.warning("rate limits: Redis unreachable (%s); counting %s in this process", exc, name)
                self._warned = True
            return getattr(self._local, method)(*args, **kw)

    def take(self, name: str, key: str, cost: int = 1) -> bool:
        """Spend ``cost`` of ``key``'s budget (e.g. one per fix of a batch); False, spending nothing, when short."""
        item = self.items.get(name)
        return True if item is None else bool(self._call(name, "hit", item, name, key, cost=cost))

    def retry_after(self, name: str, key: str) -> int:
        """Whole seconds until ``key`` may try again under ``name`` (at least 1)."""
        item = self.items.get(name)
        if item is None:
            return 1
        stats = self._call(name, "get_window_stats", item, name, key)
        return max(1, math.ceil(stats.reset_time - time.time()))
