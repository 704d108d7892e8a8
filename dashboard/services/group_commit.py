"""Group commit for one-fix-per-request position protocols (OsmAnd/Traccar).

Each request hands its fixes to ``GroupCommit.submit`` and waits; one writer thread takes
whatever has arrived (up to ``max_batch`` fixes, waiting at most ``max_wait_s`` for more),
stores it in ONE transaction through ``ingest_fixes`` and then wakes every waiter. So the
answer still goes out only after the commit, but a burst of phones costs one transaction
instead of one each. Fixes from devices nobody registered are answered individually and
never stored; so are fixes of a device whose token (``Worker.device_token_hash``) the request
lacks, and fixes beyond a device's budget (``limits``, "OSMAND": fixes per device). Both checks
ride on the one device lookup a batch already makes, and only a verified device spends budget,
so a stranger naming a device cannot use it up.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select

from ..models import Worker
from ..ratelimit import RateLimits
from .positions import Fix, ingest_fixes
from .workers import device_token_ok

log = logging.getLogger(__name__)


@dataclass
class Ticket:
    """One request's fixes and, once the writer is done, its outcome."""

    fixes: list[Fix]
    token: str | None = None  # the device token the request carried
    done: threading.Event | None = None  # set after the commit (``submit``); ``submit_nowait`` uses on_done instead
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)   # devices whose token was missing or wrong
    limited: list[str] = field(default_factory=list)   # devices over their fixes-per-minute budget
    retry_after: int = 0
    error: BaseException | None = None
    on_done: Callable[["Ticket"], None] | None = None  # called by the writer after ``done`` (an event loop's waker)


class DeviceBudget:
    """Fixes per device per window (GC_RATE_OSMAND), counted in this process's memory with the sliding-window
    counter of ``dashboard.ratelimit`` (the ``limits`` library's algorithm: this window's count plus the last
    window's, weighted by how much of it still overlaps), without that library's locking and bookkeeping — a few
    microseconds a fix instead of ~100 at city rate. Only the group commit's writer thread calls it."""

    def __init__(self, amount: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self.amount, self.window, self.clock = amount, float(window_s), clock
        self._w: dict[str, list] = {}  # key → [window index, count in it, count in the one before]
        self._pruned = 0.0

    def _state(self, key: str, now: float) -> list:
        idx = int(now // self.window)
        st = self._w.get(key)
        if st is None:
            st = self._w[key] = [idx, 0, 0]
        elif st[0] != idx:
            st[2] = st[1] if st[0] == idx - 1 else 0
            st[1], st[0] = 0, idx
        return st

    def _used(self, st: list, now: float) -> float:
        return st[2] * (1 - (now % self.window) / self.window) + st[1]

    def take(self, name: str, key: str, cost: int = 1) -> bool:
        """Spend ``cost`` of ``key``'s budget; False, spending nothing, when short (``name`` as RateLimits)."""
        now = self.clock()
        st = self._state(key, now)
        if self._used(st, now) + cost > self.amount:
            return False
        st[1] += cost
        if now - self._pruned > self.window:  # devices silent for two windows cost no memory
            self._pruned = now
            old = int(now // self.window) - 1
            for k in [k for k, v in self._w.items() if v[0] < old]:
                del self._w[k]
        return True

    def retry_after(self, name: str, key: str) -> int:
        """Whole seconds until one more fix of ``key`` fits (at least 1)."""
        now = self.clock()
        st = self._state(key, now)
        elapsed = now % self.window
        if st[1] + 1 > self.amount:  # this window alone is full: wait for the next, where its weight decays
            return max(1, math.ceil(self.window - elapsed))
        if st[2] <= 0:
            return 1
        # prev × (1 − t/window) + cur + 1 ≤ amount  ⇒  t ≥ window × (1 − (amount − cur − 1) / prev)
        t = self.window * (1 - (self.amount - st[1] - 1) / st[2])
        return max(1, math.ceil(t - elapsed))


class GroupCommit:
    """Batches concurrent submissions into shared transactions; ``submit`` returns after commit."""

    def __init__(self, services, *, max_batch: int = 1000, max_wait_s: float = 0.002,
                 limits: RateLimits | DeviceBudget | None = None) -> None:
        self.services, self.max_batch, self.max_wait_s, self.limits = services, max_batch, max_wait_s, limits
        self._q: queue.Queue[Ticket] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fixes: list[Fix], timeout: float = 30.0, token: str | None = None) -> Ticket:
        """Store ``fixes``; returns the ticket (``unknown``, ``refused`` or ``limited`` devices, or ``error``)
        once committed."""
        self._ensure_thread()
        t = Ticket(fixes, token=token, done=threading.Event())
        self._q.put(t)
        if not t.done.wait(timeout):  # type: ignore[union-attr]
            t.error = TimeoutError("position store did not answer in time")
        return t

    def submit_nowait(self, fixes: list[Fix], on_done: Callable[[Ticket], None], token: str | None = None) -> Ticket:
        """Queue ``fixes`` and return at once; ``on_done(ticket)`` is called from the writer thread after the
        commit that holds them (or with ``ticket.error``). For an event loop that must not block on ``submit``."""
        self._ensure_thread()
        t = Ticket(fixes, token=token, on_done=on_done)
        self._q.put(t)
        return t

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gc-group-commit", daemon=True)
                self._thread.start()

    def _take(self) -> list[Ticket] | None:
        try:
            first = self._q.get(timeout=1.0)
        except queue.Empty:
            return None
        batch, n = [first], len(first.fixes)
        while n < self.max_batch:
            try:
                t = self._q.get(timeout=self.max_wait_s) if self._q.empty() else self._q.get_nowait()
            except queue.Empty:
                break
            batch.append(t)
            n += len(t.fixes)
        return batch

    def _run(self) -> None:
        stop = self.services.stop
        while not stop.is_set():
            batch = self._take()
            if batch:
                self._write(batch)

    def _write(self, batch: list[Ticket]) -> None:
        try:
            with self.services.db.write(bulk=True) as s:
                devices = {f.device_id for t in batch for f in t.fixes if f.worker_id is None and f.device_id}
                known = {dev: (wid, token_hash) for dev, wid, token_hash in s.execute(
                    select(Worker.device_id, Worker.id, Worker.device_token_hash).where(
                        Worker.device_id.in_(devices))).all()} if devices else {}
                fixes = []
                for t in batch:
                    if not self._admit(t, known):
                        continue  # a request naming a stranger, lacking a token or over budget stores nothing
                    for f in t.fixes:
                        if f.worker_id is None:
                            f.worker_id = known[f.device_id][0]
                    fixes.extend(t.fixes)
                res = ingest_fixes(s, fixes, locator=self.services.locator,
                                   max_future_s=self.services.settings.position_max_future_s) if fixes else None
            if res is not None:
                self.services.frames.add(res.moved)
        except Exception as exc:  # every waiter learns it failed; their clients retry
            log.exception("group commit of %d requests failed", len(batch))
            for t in batch:
                t.error = exc
        finally:
            for t in batch:
                if t.done is not None:
                    t.done.set()
                if t.on_done is not None:
                    try:
                        t.on_done(t)
                    except Exception:  # noqa: BLE001 — a closed loop must not stop the writer
                        log.exception("waking a waiter of the group commit failed")

    def _admit(self, t: Ticket, known: dict[str, tuple[int, str | None]]) -> bool:
        """Every device the request names is registered, its token matches, and it has budget for its fixes."""
        named = Counter(f.device_id or "" for f in t.fixes if f.worker_id is None)
        t.unknown = sorted(d for d in named if d not in known)
        if t.unknown:
            return False
        t.refused = sorted(d for d in named if not device_token_ok(known[d][1], t.token))
        if t.refused:
            return False
        if self.limits is not None:
            t.limited = [d for d, n in named.items() if not self.limits.take("OSMAND", d, n)]
            if t.limited:
                t.retry_after = max(self.limits.retry_after("OSMAND", d) for d in t.limited)
                return False
        return True
