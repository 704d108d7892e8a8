"""Run a CPU-bound call without stalling the other connections.

Under gevent (``python run.py``, ``run.py prod``'s gevent workers) every request, socket and background loop of a
process shares one OS thread: a call that computes for half a second without touching the network holds them all
for that long. ``offload`` runs such a call on gevent's pool of native threads and lets the caller's greenlet
wait; the interpreter then switches between that thread and the event loop as between any two threads. With
plain threads (``python run.py --no-gevent``) the caller's thread already is one: the call runs in place.
Only for calls that touch no greenlet-aware objects (sockets, gevent locks, the database pool): a compile, a
parse, a computation over data already read.

SQLite is a C library, not a socket: under threads its statements release the interpreter, under gevent one
statement of a second (the rules pass over a city's overdue cases, the wall's figures of a day) held every
connection for that second (a city wall's reports waited 2.8 s at p95). ``OffloadedConnection`` runs each
statement that may be slow, its rows and the commit on a native thread, the greenlet waiting (SQLite only: psycopg
waits on its socket cooperatively); ``yield_between_statements`` gives the loop a turn after each statement on any
engine, so a pass of many statements never holds it for the whole pass.

A crossing is not free: on a busy loop the native thread waits for the interpreter (up to its switch interval,
5 ms) and the greenlet for the loop to come round, 4–6 ms a statement (100 ms beside greenlets that yield with
``sleep(0)`` between 2 ms of work), where most statements take 0.01–0.1 ms in place — a report of 30 statements
took 161 ms at p95 on the demo street (57 on threads). So each statement text keeps its recent peak duration
(``Routes``): one never seen, or seen slower than ``IN_PLACE_MAX`` lately, runs on a native thread; one known to be
quick runs in place. A statement that turns slow in place (a query of the whole city where it was of
one community) holds the loop that once and is sent to the thread from then on, until ``DECAY`` has brought its peak
back under the limit (a few dozen quick runs).
"""
from __future__ import annotations

import sqlite3
import sys
import time
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def cooperative() -> bool:
    """True when gevent has patched the standard library's threads in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def offload(fn: Callable[..., T], *args) -> T:
    """``fn(*args)``: on a native thread under gevent, in place otherwise."""
    if cooperative():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


TURN_EVERY = 0.004  # s of work on the loop between two turns for the other connections
_turns: dict = {"on": None, "since": 0.0}


def turn() -> None:
    """Inside a long stretch of Python work (a rules pass over 50,000 cases, the simulator's step of 20,000
    workers): under gevent, once the loop has been held ``TURN_EVERY`` since the last turn, give it to the other
    connections (their requests, pushes, offloaded statements that finished) until its next round. Cheap enough
    to call once per row; nothing without gevent (threads are switched by the interpreter).

    A turn is ``sleep`` of a little more than nothing: ``sleep(0)`` only queues this greenlet behind the others
    ready now, and the loop reads its sockets and timers only after 50 such callbacks — beside work that yields
    every 2 ms, an offloaded statement's answer waited 100 ms."""
    on = _turns["on"]
    if on is None:
        on = _turns["on"] = cooperative()
    if not on:
        return
    now = time.perf_counter()
    if now - _turns["since"] >= TURN_EVERY:
        import gevent

        gevent.sleep(0.0001)
        _turns["since"] = time.perf_counter()


def turns(items: Iterable[T]) -> Iterator[T]:
    """``items`` one by one with a ``turn`` before each: a result of 50,000 rows iterated (and so converted) on
    the loop, or a loop over them, takes its turns."""
    for item in items:
        turn()
        yield item


def yield_between_statements(engine) -> None:
    """Under gevent: after each SQL statement on ``engine``, a ``turn`` for the other greenlets when it is due."""
    if not cooperative():
        return
    from sqlalchemy import event

    @event.listens_for(engine, "after_cursor_execute")
    def _turn(*_args) -> None:
        turn()


class Routes:
    """Where each SQLite statement text runs under gevent: in place while its recent peak duration is under
    ``IN_PLACE_MAX``, on a native thread otherwise (and the first time). Touched from the loop's thread only."""

    IN_PLACE_MAX = 0.002  # s: holding the loop this long costs less than a crossing on a busy loop
    DECAY = 0.9  # a peak shrinks by this each run: a 100 ms statement runs in place again after ~37 quick runs
    KEEP = 4096  # statement texts remembered (IN lists of many lengths make many texts); then it starts over
    # a write transaction's BEGIN waits for another process's writer (an import run beside the server) on the busy
    # timeout, up to 30 s: always on a thread. This process's writers take turns before it (db.FairLock), and once
    # it has begun no statement of the transaction waits for a lock (WAL: readers never do); the commit is offloaded.
    MAY_WAIT = ("BEGIN IMMEDIATE",)

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}

    def in_place(self, sql: str) -> bool:
        if sql.startswith(self.MAY_WAIT):
            return False
        peak = self.peaks.get(sql)
        return peak is not None and peak < self.IN_PLACE_MAX

    def took(self, sql: str, seconds: float) -> None:
        peaks = self.peaks
        if len(peaks) >= self.KEEP and sql not in peaks:
            peaks.clear()
        peaks[sql] = max(seconds, peaks.get(sql, 0.0) * self.DECAY)


ROUTES = Routes()


class _Cursor:
    """A DB-API cursor whose ``execute`` runs the statement and reads all its rows on a native thread; the rows
    are then handed out from memory (a row at a time over threads would cost more than the query)."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self._rows: list | None = None
        self._i = 0

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)  # description, rowcount, lastrowid, arraysize …

    def _run(self, method, sql: str, args) -> None:
        cur = self._cursor

        def work():
            method(sql, args)
            return cur.fetchall() if cur.description is not None else None

        if ROUTES.in_place(sql):
            t = time.perf_counter()  # the time the loop is held
            rows = work()
            took = time.perf_counter() - t
        else:
            def timed():
                t = time.thread_time()  # this thread's own work: not its waits for the interpreter
                return work(), time.thread_time() - t

            rows, took = offload(timed)
        ROUTES.took(sql, took)
        self._rows, self._i = rows, 0

    def execute(self, sql, parameters=()):
        self._run(self._cursor.execute, sql, parameters)
        return self

    def executemany(self, sql, seq):
        self._run(self._cursor.executemany, sql, seq)
        return self

    def fetchone(self):
        rows = self._rows
        if not rows or self._i >= len(rows):
            return None
        self._i += 1
        return rows[self._i - 1]

    def fetchmany(self, size: int | None = None):
        rows, i = self._rows or [], self._i
        got = rows[i:i + (size or self._cursor.arraysize)]
        self._i = i + len(got)
        return got

    def fetchall(self):
        rows, i = self._rows or [], self._i
        self._i = len(rows)
        return rows[i:]

    def __iter__(self):
        return iter(self.fetchone, None)

    def close(self) -> None:
        self._cursor.close()
        self._rows = None


class OffloadedConnection(sqlite3.Connection):
    """``sqlite3.connect(factory=…)`` under gevent: statements and commits on native threads (``_Cursor``)."""

    def cursor(self, *args, **kwargs):  # type: ignore[override]
        return _Cursor(super().cursor(*args, **kwargs))

    def commit(self) -> None:
        offload(sqlite3.Connection.commit, self)

    def rollback(self) -> None:
        offload(sqlite3.Connection.rollback, self)


def sqlite_connect_args() -> dict:
    """Extra ``connect_args`` for an SQLite engine: the offloading connection under gevent, nothing otherwise."""
    return {"factory": OffloadedConnection} if cooperative() else {}
