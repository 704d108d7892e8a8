"""SQLite writers of one process take turns first come, first served, and a turn ends before publishing.

A person's report used to wait behind the simulator: SQLite's busy handler polls with growing sleeps,
so a writer could sleep past the release and lose the lock again to a thread that commits and begins
its next transaction at once.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from dashboard import events
from dashboard.db import Database, FairLock, migrate
from dashboard.events import EventBus
from dashboard.models import Event


def test_fair_lock_serves_in_arrival_order_and_is_reentrant():
    lock, order = FairLock(), []
    lock.acquire()
    lock.acquire()  # the holder may enter again
    lock.release()

    def waiter(name):
        lock.acquire()
        order.append(name)
        lock.release()

    threads = []
    for name in "BCDE":
        t = threading.Thread(target=waiter, args=(name,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # queued one after another
    order.append("A")
    lock.release()
    for t in threads:
        t.join(5)
    assert order == ["A", "B", "C", "D", "E"]


def test_a_persons_write_goes_ahead_of_queued_background_writers():
    """People first, then background writers; first come, first served within each; one wake-up per hand-over."""
    lock, order = FairLock(), []
    lock.acquire(bulk=True)  # a position batch holds the turn

    def waiter(name, bulk):
        lock.acquire(bulk=bulk)
        order.append(name)
        lock.release()

    threads = []
    for name, bulk in (("bulk1", True), ("bulk2", True), ("person1", False), ("bulk3", True), ("person2", False)):
        t = threading.Thread(target=waiter, args=(name, bulk))
        t.start()
        threads.append(t)
        time.sleep(0.05)
    order.append("holder")
    lock.release()
    for t in threads:
        t.join(5)
    assert order == ["holder", "person1", "person2", "bulk1", "bulk2", "bulk3"]
    lock.acquire()  # free again: taken at once
    lock.release()


def test_turn_wait_is_what_this_thread_waited(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    migrate(db.engine)
    held, go = threading.Event(), threading.Event()

    def background():
        with db.write(bulk=True):
            held.set()
            go.wait(5)

    t = threading.Thread(target=background)
    t.start()
    held.wait(5)
    db.turn_wait(reset=True)
    threading.Timer(0.2, go.set).start()
    with db.write() as s:
        events.record(s, "report", {})
    t.join(5)
    waited = db.turn_wait(reset=True)
    assert 0.15 < waited < 2, waited
    assert db.turn_wait() == 0.0
    with db.write():  # no one ahead: no wait
        pass
    assert db.turn_wait() < 0.05
    db.dispose()


def test_a_writer_that_begins_again_at_once_goes_behind_one_waiting(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    migrate(db.engine)
    order, waiting = [], threading.Event()

    def simulator():
        for i in range(3):
            with db.write() as s:
                events.record(s, "sim", {"i": i})
                order.append(f"sim{i}")  # inside the transaction: the order writers got in
                if i == 0:
                    waiting.wait(5)
                    time.sleep(0.1)  # the person is queued by now

    def person():
        waiting.set()
        with db.write() as s:
            events.record(s, "report", {})
            order.append("person")

    t = threading.Thread(target=simulator)
    t.start()
    time.sleep(0.05)
    person()
    t.join(5)
    assert order == ["sim0", "person", "sim1", "sim2"]
    with db.read() as s:
        assert [e.type for e in s.scalars(select(Event).order_by(Event.seq))] == ["sim", "report", "sim", "sim"]
    db.dispose()


def test_a_subscriber_may_write_when_events_are_published(tmp_path):
    """The turn ends with the transaction: a bus subscriber that writes (a rollup, say) does not wait on it."""
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    migrate(db.engine)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE note (seq INTEGER)")
    bus = EventBus()
    bus.attach(db.writer)

    def rollup(messages):
        with db.write() as s:
            s.execute(text("INSERT INTO note (seq) VALUES (:q)"), {"q": messages[0]["seq"]})

    bus.subscribe(rollup)
    done = threading.Event()

    def report():
        with db.write() as s:
            events.record(s, "case", {})
        done.set()

    threading.Thread(target=report, daemon=True).start()
    assert done.wait(10), "a subscriber writing from the publish deadlocked on the write turn"
    with db.read() as s:
        assert s.scalar(text("SELECT seq FROM note")) == s.scalar(select(Event.seq))
    db.dispose()
