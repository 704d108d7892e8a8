"""A wall screen in Python: what assets/10-gc-live.js (GCLive) does, for scale tests and benchmarks.

Start from ``/api/v1/snapshot`` (its seq), connect over websocket only, apply each
``events`` batch in seq order; on a reconnect fetch ``/api/v1/events?after=`` first; on a
gap while live, hold the batch ``GAP_WAIT_S`` for the overtaken one to be pushed, then
fetch. Every applied seq is recorded, so a test can prove nothing was missed and nothing
applied twice; every pushed seq too, so it can prove the push reached this screen.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import requests
import socketio

GAP_WAIT_S = 0.25  # as GAP_WAIT_MS in assets/10-gc-live.js


class WallClient:
    """One live screen. ``applied`` lists every seq in the order it was applied."""

    def __init__(self, base_url: str, *, on_batch: Callable[[list[dict], float], None] | None = None,
                 on_event: Callable[[dict, float, bool], None] | None = None, keep_events: bool = True,
                 api_key: str | None = None, session: requests.Session | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.http = session or requests.Session()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}  # a display key in production
        self.http.headers.update(self.headers)
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5)
        self.lock = threading.Lock()
        self.last_seq = 0
        self.start_seq = 0
        self.applied: list[int] = []
        self.pushed: list[int] = []      # seqs that arrived by push (not by catch-up)
        self.fetched: list[int] = []     # seqs that arrived by /api/v1/events
        self.received: set[int] = set()  # every seq a push brought, applied from it or already fetched
        self.events: dict[int, dict] = {}
        self.gaps = 0                    # gaps fetched
        self.overtaken = 0               # gaps the overtaken batch's push filled while held
        self.held_s: list[float] = []    # how long each of those waited
        self.holes = 0                   # gaps fetched where the missing seq was never committed (rolled back)
        self._gap_since = 0.0
        self.live = False                # every event after last_seq will be pushed
        self._held: list[list[dict]] = []
        self._gap_timer: threading.Timer | None = None
        self.reconnects = 0
        self.on_batch = on_batch
        self.on_event = on_event      # (message, time applied, pushed?) for every applied event
        self.keep_events = keep_events
        self._connected_once = False
        self.caught_up = threading.Event()  # set once the first connection's catch-up has run
        self.sio.on("connect", self._on_connect)
        self.sio.on("events", self._on_events)

    # -- the GCLive protocol -------------------------------------------------
    def start(self, timeout: float = 15) -> "WallClient":
        snap = self.http.get(self.base + "/api/v1/snapshot", timeout=timeout)
        snap.raise_for_status()
        self.last_seq = self.start_seq = int(snap.json()["seq"])
        self.live = False
        self.connect(timeout)
        # live, as a page is, only once the catch-up after connecting has run: an event committed before it
        # would otherwise be applied by that catch-up (fetched), and its push then ignored as already seen
        if not self.caught_up.wait(timeout):
            raise TimeoutError("the first catch-up after connecting did not finish")
        return self

    def connect(self, timeout: float = 15) -> None:
        self.sio.connect(self.base, transports=["websocket"], wait_timeout=timeout, headers=self.headers)

    def _on_connect(self) -> None:
        if self._connected_once:
            self.reconnects += 1
        self._connected_once = True
        self.live = False
        threading.Thread(target=self._safe_catch_up, daemon=True).start()

    def _safe_catch_up(self) -> None:
        try:
            with self.lock:
                self._stop_gap_timer()  # the catch-up fills the gap: not a held batch's push
                self._catch_up()
                self.live = True
                self._drain()
        except requests.RequestException:
            pass  # the next batch's gap check fetches again
        finally:
            self.caught_up.set()

    def _catch_up(self) -> None:
        """Fetch everything after last_seq (under the lock)."""
        while True:
            r = self.http.get(self.base + "/api/v1/events", params={"after": self.last_seq, "limit": 5000},
                              timeout=15)
            r.raise_for_status()
            body = r.json()
            for m in body["events"]:
                self._apply(m, pushed=False)
            if not body.get("more"):
                return

    def _apply(self, m: dict, *, pushed: bool) -> None:
        seq = m["seq"]
        if seq <= self.last_seq:
            return  # already applied (a batch overlapping a catch-up)
        self.applied.append(seq)
        (self.pushed if pushed else self.fetched).append(seq)
        if self.keep_events:
            self.events[seq] = m
        self.last_seq = seq
        if self.on_event:
            self.on_event(m, time.time(), pushed)

    def _on_events(self, data: dict) -> None:
        received = time.time()
        batch = sorted(data.get("events", []), key=lambda m: m["seq"])
        if not batch:
            return
        with self.lock:
            self.received.update(m["seq"] for m in batch)
            self._held.append(batch)
            self._held.sort(key=lambda b: b[0]["seq"])  # an overtaken batch goes first
            self._drain()
        if self.on_batch:
            self.on_batch(batch, received)

    def _drain(self) -> None:
        """Apply held batches in seq order; on a gap wait for the overtaken batch (live) or fetch (under the lock)."""
        while self._held:
            if self._held[0][0]["seq"] > self.last_seq + 1:
                if self.live:
                    if self._gap_timer is None:
                        self._gap_timer = threading.Timer(GAP_WAIT_S, self._gap_expired)
                        self._gap_timer.daemon = True
                        self._gap_timer.start()
                        self._gap_since = time.time()
                    return
                self._fetch_gap()  # live after it: if it failed, the held batch waits and it is tried again
                continue
            for m in self._held.pop(0):
                self._apply(m, pushed=True)
            self.live = True
        if self._stop_gap_timer():
            self.overtaken += 1
            self.held_s.append(time.time() - self._gap_since)

    def _stop_gap_timer(self) -> bool:
        """Cancel the wait for an overtaken batch; True if one was running."""
        if self._gap_timer is None:
            return False
        self._gap_timer.cancel()
        self._gap_timer = None
        return True

    def _gap_expired(self) -> None:
        with self.lock:
            self._gap_timer = None
            if self._held and self._held[0][0]["seq"] > self.last_seq + 1:
                self._fetch_gap()
                self._drain()

    def _fetch_gap(self) -> None:
        self.gaps += 1
        want, n = self.last_seq + 1, len(self.fetched)
        try:
            self._catch_up()
            self.holes += len(self.fetched) == n or self.fetched[n] != want  # that seq was never committed
        except requests.RequestException:
            pass  # the held batch waits GAP_WAIT_S, then this is tried again
        self.live = True

    # -- test helpers ---------------------------------------------------------
    def cut_off(self) -> None:
        """Drop the connection (as a network cut would); ``connect()`` brings it back."""
        self.sio.disconnect()

    def wait_for_seq(self, seq: int, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.last_seq >= seq:
                return True
            time.sleep(0.1)
        return self.last_seq >= seq

    def close(self) -> None:
        self._stop_gap_timer()
        try:
            self.sio.disconnect()
        except Exception:
            pass


def all_seqs(base_url: str, after: int, upto: int, api_key: str | None = None) -> list[int]:
    """Every committed seq in (after, upto] according to the server's event log."""
    out: list[int] = []
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while True:
        body = requests.get(base_url + "/api/v1/events", params={"after": after, "limit": 5000}, timeout=30,
                            headers=headers).json()
        seqs = [m["seq"] for m in body["events"] if m["seq"] <= upto]
        out += seqs
        if not body["events"] or body["events"][-1]["seq"] >= upto or not body.get("more"):
            return out
        after = body["events"][-1]["seq"]
