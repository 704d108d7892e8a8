"""Exactly one process runs the singletons (simulator, scheduled jobs): a leader election.

On PostgreSQL the leader holds a session-level advisory lock on a dedicated
connection of its own. The lock lives exactly as long as that connection: a leader
that crashes, is killed (-9) or loses its connection lets go at once, and a
follower that polls ``pg_try_advisory_lock`` takes over within ``retry_s``. A
leader that notices its connection is gone ends its term (the term event is set,
its producers stop) and competes again.

On SQLite the deployment is one process by design, so that process is always
the leader.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 7_311_2027   # session lock: the singleton producers (≠ events.EVENT_LOCK_KEY)
MIGRATE_LOCK_KEY = 7_311_2028  # session lock: schema migration / first seed at start-up

OnElected = Callable[[threading.Event], None]


def _dsn(db_url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (postgresql+psycopg://… → postgresql://…)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Leadership:
    """Competes for leadership until ``stop`` is set; calls ``on_elected(term)`` on each win.

    ``term`` is an event that is set when the term ends (lock lost or shutdown): the
    producers started by ``on_elected`` must watch it and stop.
    """

    def __init__(self, db_url: str, stop: threading.Event, *, retry_s: float = 5.0,
                 spawn: Callable[..., object] | None = None) -> None:
        self.db_url = db_url
        self.stop = stop
        self.retry_s = retry_s
        self.spawn = spawn or (lambda fn, *a: threading.Thread(target=fn, args=a, daemon=True,
                                                               name="gc-leader").start())
        self.is_leader = False
        self.terms = 0

    @property
    def backend(self) -> str:
        return "postgresql" if self.db_url.startswith("postgresql") else "single-process"

    def run(self, on_elected: OnElected) -> None:
        """Start competing (in the background on PostgreSQL; at once when single-process)."""
        if self.backend != "postgresql":
            self._begin_term(on_elected, self.stop)
            return
        self.spawn(self._compete, on_elected)

    def _begin_term(self, on_elected: OnElected, term: threading.Event) -> None:
        self.is_leader = True
        self.terms += 1
        log.info("this process leads (%s): starting the singleton producers", self.backend)
        on_elected(term)

    def _compete(self, on_elected: OnElected) -> None:
        import psycopg

        while not self.stop.is_set():
            conn = None
            try:
                conn = psycopg.connect(_dsn(self.db_url), autocommit=True, connect_timeout=5,
                                       application_name=f"gridcommand-leader-{os.getpid()}")
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)).fetchone()
                won = bool(row and row[0])
                if won:
                    term = threading.Event()
                    self._begin_term(on_elected, term)
                    self._hold(conn, term)
            except Exception as exc:  # the database is down or restarting: try again later
                log.warning("leader election: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
            self.stop.wait(self.retry_s)

    def _hold(self, conn, term: threading.Event) -> None:
        """Keep the lock's connection alive; end the term when it breaks or on shutdown."""
        try:
            while not self.stop.wait(self.retry_s):
                conn.execute("SELECT 1")
        except Exception as exc:
            log.error("leadership lost (%s): stopping the singleton producers", str(exc).splitlines()[0])
        finally:
            self.is_leader = False
            term.set()


@contextmanager
def exclusive(db_url: str, key: int = MIGRATE_LOCK_KEY, *, timeout_s: float = 300) -> Iterator[None]:
    """Run a block in one process at a time across the deployment (e.g. migrate + seed at start-up)."""
    if not db_url.startswith("postgresql"):
        yield
        return
    import psycopg

    try:
        conn = psycopg.connect(_dsn(db_url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:  # the caller's own connect will fail and say so
        log.warning("no start-up lock, the database is unreachable: %s", str(exc).splitlines()[0])
        yield
        return
    with conn:
        conn.execute(f"SET lock_timeout = '{int(timeout_s * 1000)}ms'")
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
