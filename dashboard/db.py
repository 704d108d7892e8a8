"""Database plumbing: declarative base, engine with SQLite pragmas, sessions, migrations."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from .offload import sqlite_connect_args, yield_between_statements
from .timeutil import UTC, as_utc

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, on every backend alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def make_engine(url: str, *, immediate: bool = True, **kwargs) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL.

    With ``immediate`` an SQLite transaction takes the write lock at BEGIN, so
    concurrent writers queue on the busy timeout instead of failing when a read
    lock is upgraded; read-only engines use a deferred BEGIN.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30, **sqlite_connect_args()},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-32000")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        # pysqlite's own transaction handling is switched off; BEGIN is ours.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    yield_between_statements(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (events are published then)."""
    return sessionmaker(engine, expire_on_commit=False)


ALEMBIC_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # feature branches of the schema may each add a head


def is_empty(engine: Engine) -> bool:
    """True when the database has no grid yet."""
    from sqlalchemy import select, func
    from .models import Grid

    if not inspect(engine).has_table("grid"):
        return True
    with Session(engine) as s:
        return (s.scalar(select(func.count()).select_from(Grid)) or 0) == 0


class FairLock:
    """A lock handed out in turn — people's writes before background ones, each first come, first served —
    and re-entrant for its holder.

    SQLite lets one writer in at a time; a writer that finds the database locked polls with growing
    sleeps (1, 2, 5 … 25, 50 ms), so it may wait well past the lock's release and lose to a thread that
    commits and begins again at once (the simulator, a tick's batches). Writers of one process queue
    here instead. A report a person files (``bulk=False``) goes ahead of queued background writers (position
    batches, the simulator, the rules pass): it waits for the holder only, not for a tick's queue. The release
    hands the lock to exactly one waiter and wakes only that thread: on a busy box every wake-up may wait for a CPU.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._queues: tuple[deque, deque] = (deque(), deque())  # (people's, background) waiters: (gate, thread)

    def acquire(self, bulk: bool = False) -> None:
        me = threading.get_ident()
        with self._lock:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None:
                self._owner, self._depth = me, 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._queues[1 if bulk else 0].append((gate, me))
        gate.acquire()  # released by the holder's release, which made this thread the owner

    def release(self) -> None:
        with self._lock:
            if self._owner != threading.get_ident():
                raise RuntimeError("FairLock released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            queue = self._queues[0] or self._queues[1]
            if not queue:
                self._owner = None
                return
            gate, self._owner = queue.popleft()
            self._depth = 1
            gate.release()


_WRITE_TURN = "gc_write_turn"


def in_batches(db: "Database", step, batch: int) -> int:  # noqa: ANN001
    """``step(session, batch)`` in one background write transaction after another until it does fewer than
    ``batch`` (a week of rows after a long stop, deleted in one statement, held the write lock while a report
    waited); the total it did."""
    total = 0
    while True:
        with db.write(bulk=True) as s:
            n = step(s, batch)
        total += n
        if n < batch:
            return total


class Database:
    """The engines and session factories of one app: ``write()`` and ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url, immediate=True)
        self.read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else self.engine
        self.writer = make_sessionmaker(self.engine)
        self.reader = make_sessionmaker(self.read_engine)
        # SQLite: this process's writers take turns here before BEGIN IMMEDIATE (PostgreSQL needs no such turn)
        self.write_turns = FairLock() if self.is_sqlite else None
        self._waited = threading.local()  # per thread: seconds waited for write turns (turn_wait)
        if self.write_turns is not None:
            # the turn ends with the transaction, before its events are published (listeners added later,
            # such as the event bus's, run after this one)
            @event.listens_for(self.writer, "after_transaction_end")
            def _end_turn(session, transaction):  # noqa: ANN001
                if transaction.parent is None and session.info.pop(_WRITE_TURN, None):
                    self.write_turns.release()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def write(self, *, bulk: bool = False):
        """``with db.write() as session:`` — one transaction, committed on exit. Background writers (batches,
        simulators, scheduled passes) say ``bulk=True``: on SQLite a person's write goes ahead of them."""
        if self.write_turns is None:
            return self.writer.begin()
        return self._write_in_turn(bulk)

    def turn_wait(self, *, reset: bool = False) -> float:
        """Seconds this thread has waited for its SQLite write turns (since the last reset): a request's
        ``Server-Timing``."""
        waited = getattr(self._waited, "s", 0.0)
        if reset:
            self._waited.s = 0.0
        return waited

    @contextmanager
    def _write_in_turn(self, bulk: bool):
        session = self.writer()
        turns = self.write_turns
        assert turns is not None  # only SQLite queues its writers (write() checks)
        t0 = time.perf_counter()
        turns.acquire(bulk)
        self._waited.s = getattr(self._waited, "s", 0.0) + time.perf_counter() - t0
        session.info[_WRITE_TURN] = True
        try:
            with session.begin():
                yield session
        finally:
            if session.info.pop(_WRITE_TURN, None):  # the transaction never started or ended without the event
                turns.release()
            session.close()

    def read(self) -> Session:
        """``with db.read() as session:`` — a read-only session."""
        return self.reader()

    def dispose(self) -> None:
        """Close both pools and unhook the listeners of this Database's session factories: it is done.

        SQLAlchemy files a sessionmaker's listeners under its own Session subclass in a class-level registry with
        weak keys, but the listeners (the write turn's, the event bus's, the name index's, the audit hooks') lead
        back to that subclass through the app they serve, so the key never died: every disposed Database kept
        its whole app in memory for the life of the process. One app a process in production; in the test suite
        one a test, 2.2 GB by its end and about a minute at exit to free it.
        """
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        for factory in (self.writer, self.reader):
            dispatch: Any = factory.class_.dispatch
            for listeners in dispatch._event_descriptors:  # each event's class-level listener lists (SQLAlchemy 2)
                mine = listeners._clslevel.get(factory.class_)
                if mine is not None:
                    mine.clear()
