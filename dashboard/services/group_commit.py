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
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field

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
    done: threading.Event = field(default_factory=threading.Event)
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)   # devices whose token was missing or wrong
    limited: list[str] = field(default_factory=list)   # devices over their fixes-per-minute budget
    retry_after: int = 0
    error: BaseException | None = None


class GroupCommit:
    """Batches concurrent submissions into shared transactions; ``submit`` returns after commit."""

    def __init__(self, services, *, max_batch: int = 1000, max_wait_s: float = 0.002,
                 limits: RateLimits | None = None) -> None:
        self.services, self.max_batch, self.max_wait_s, self.limits = services, max_batch, max_wait_s, limits
        self._q: queue.Queue[Ticket] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fixes: list[Fix], timeout: float = 30.0, token: str | None = None) -> Ticket:
        """Store ``fixes``; returns the ticket (``unknown``, ``refused`` or ``limited`` devices, or ``error``)
        once committed."""
        self._ensure_thread()
        t = Ticket(fixes, token=token)
        self._q.put(t)
        if not t.done.wait(timeout):
            t.error = TimeoutError("position store did not answer in time")
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
                t.done.set()

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
