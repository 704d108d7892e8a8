"""A wall screen in Python: what assets/10-gc-live.js (GCLive) does, for scale tests and benchmarks.

Start from ``/api/v1/snapshot`` (its seq), connect over websocket only, apply each
``events`` batch in seq order; on a gap or a reconnect fetch ``/api/v1/events?after=``
first. Every applied seq is recorded, so a test can prove nothing was missed and
nothing applied twice.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import requests
import socketio


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
        self.events: dict[int, dict] = {}
        self.gaps = 0
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
        threading.Thread(target=self._safe_catch_up, daemon=True).start()

    def _safe_catch_up(self) -> None:
        try:
            with self.lock:
                self._catch_up()
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
            if batch[0]["seq"] > self.last_seq + 1:
                self.gaps += 1
                try:
                    self._catch_up()
                except requests.RequestException:
                    return  # try again on the next batch
            for m in batch:
                self._apply(m, pushed=True)
        if self.on_batch:
            self.on_batch(batch, received)

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
