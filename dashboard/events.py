"""The event log and the in-process bus.

A domain change and its Event rows commit in one transaction; the events are handed
to the bus only after that commit, in seq order. On PostgreSQL a sequence hands out
numbers at insert time, not commit time, so a transaction takes a transaction-level
advisory lock before inserting its first event: event-writing transactions commit
one after another and seq order equals commit order (SQLite serialises writers
anyway). A reader asking for "everything after seq N" therefore never misses a row
that commits later with a smaller seq.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable

from sqlalchemy import event as sa_event, select, text
from sqlalchemy.orm import Session, sessionmaker

from .models import Event
from .timeutil import iso, utcnow

log = logging.getLogger(__name__)

EVENT_LOCK_KEY = 7_311_2026  # advisory lock id for event-writing transactions
_PENDING = "gc_pending_events"
_LOCKED = "gc_event_lock"

Subscriber = Callable[[list[dict[str, Any]]], None]


def lock_order(session: Session) -> None:
    """On PostgreSQL, queue this transaction behind other event writers until it commits.

    ``record`` does this itself; call it earlier when a transaction must read
    something other writers change (e.g. the day's case count for a case code).
    """
    if session.bind is not None and session.get_bind().dialect.name == "postgresql" and not session.info.get(_LOCKED):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOCK_KEY})
        session.info[_LOCKED] = True


def record(session: Session, type: str, payload: dict[str, Any], *, community_id: int | None = None) -> Event:
    """Add an event to the session's transaction; it is published after commit."""
    lock_order(session)
    ev = Event(type=type, payload=payload, community_id=community_id, at=utcnow())
    session.add(ev)
    session.info.setdefault(_PENDING, []).append(ev)
    return ev


def to_message(ev: Event) -> dict[str, Any]:
    """The wire shape of one event: what sockets push and /api/v1/events returns."""
    return {"seq": ev.seq, "type": ev.type, "at": iso(ev.at), "community_id": ev.community_id, "payload": ev.payload}


def events_after(session: Session, after: int, *, limit: int = 1000, community_id: int | None = None,
                 types: Iterable[str] | None = None) -> list[Event]:
    """Committed events with seq > after, oldest first (for resync and replay)."""
    q = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if community_id is not None:
        q = q.where((Event.community_id == community_id) | (Event.community_id.is_(None)))
    if types:
        q = q.where(Event.type.in_(list(types)))
    return list(session.scalars(q))


def latest_messages(session: Session, types: Iterable[str], *, limit: int = 60) -> list[dict[str, Any]]:
    """The newest ``limit`` events of ``types``, newest first, as live-channel messages (whole street)."""
    rows = session.scalars(select(Event).where(Event.type.in_(list(types))).order_by(Event.seq.desc()).limit(limit))
    return [to_message(ev) for ev in rows]


def last_seq(session: Session) -> int:
    """The highest committed seq (0 on an empty log)."""
    from sqlalchemy import func

    return session.scalar(select(func.max(Event.seq))) or 0


class EventBus:
    """Fans committed events out to subscribers (the Socket.IO layer, tests, rules)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(messages)`` after every commit that recorded events; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        # one publisher at a time keeps each process's output in seq order
        with self._lock:
            subscribers = list(self._subscribers)
            for fn in subscribers:
                try:
                    fn(messages)
                except Exception:  # a broken subscriber must not break the writer
                    log.exception("event subscriber failed")

    def attach(self, factory: sessionmaker) -> None:
        """Publish the events of every session made by ``factory`` after it commits."""

        @sa_event.listens_for(factory, "after_flush")
        def _after_flush(session, _ctx):  # noqa: ANN001
            pending = session.info.get(_PENDING)
            if pending:
                ready = session.info.setdefault("gc_ready_events", [])
                ready.extend(to_message(ev) for ev in pending if ev.seq is not None)
                session.info[_PENDING] = [ev for ev in pending if ev.seq is None]

        @sa_event.listens_for(factory, "after_commit")
        def _after_commit(session):  # noqa: ANN001
            ready = session.info.pop("gc_ready_events", [])
            session.info.pop(_PENDING, None)
            session.info.pop(_LOCKED, None)
            if ready:
                session.info.setdefault("gc_committed_events", []).extend(ready)

        # Publish once the transaction has ended and its connection is back in the pool: a subscriber
        # that reads the database then never needs a second connection while holding the first (with
        # more concurrent writers than pool connections, that deadlocked until the pool timed out).
        @sa_event.listens_for(factory, "after_transaction_end")
        def _after_end(session, transaction):  # noqa: ANN001
            if transaction.parent is not None:
                return
            committed = session.info.pop("gc_committed_events", [])
            if committed:
                committed.sort(key=lambda m: m["seq"])
                self.publish(committed)

        @sa_event.listens_for(factory, "after_rollback")
        def _after_rollback(session):  # noqa: ANN001
            session.info.pop("gc_ready_events", None)
            session.info.pop(_PENDING, None)
            session.info.pop(_LOCKED, None)
