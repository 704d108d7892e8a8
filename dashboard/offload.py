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
statement, its rows and the commit on a native thread, the greenlet waiting (SQLite only: psycopg waits on its
socket cooperatively); ``yield_between_statements`` gives the loop a turn after each statement on any engine, so
a pass of many statements never holds it for the whole pass.
"""
from __future__ import annotations

import sqlite3
import sys
from typing import Callable, TypeVar

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


def yield_between_statements(engine) -> None:
    """Under gevent: after each SQL statement on ``engine``, let the other greenlets run (pushes, requests)."""
    if not cooperative():
        return
    import gevent
    from sqlalchemy import event

    @event.listens_for(engine, "after_cursor_execute")
    def _turn(*_args) -> None:
        gevent.sleep(0)


class _Cursor:
    """A DB-API cursor whose ``execute`` runs the statement and reads all its rows on a native thread; the rows
    are then handed out from memory (a row at a time over threads would cost more than the query)."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self._rows: list | None = None
        self._i = 0

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)  # description, rowcount, lastrowid, arraysize …

    def _run(self, method, *args) -> None:
        cur = self._cursor

        def work():
            method(*args)
            return cur.fetchall() if cur.description is not None else None

        self._rows, self._i = offload(work), 0

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
