"""The event log: events commit with their change, are published after commit in seq order, never on rollback."""
from __future__ import annotations

import threading

import pytest

from dashboard import events
from dashboard.models import Event
from dashboard.services.cases import CaseReport, report_case
from tests.utils.factories import grid_center, make_district


def test_published_after_commit_in_seq_order(app_services):
    _, services = app_services
    got: list[list[int]] = []
    services.bus.subscribe(lambda msgs: got.append([m["seq"] for m in msgs]))
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    with services.db.write() as s:
        events.record(s, "test", {"n": 1})
        events.record(s, "test", {"n": 2})
        assert got == []  # nothing leaves before the commit
    assert len(got) == 1 and got[0] == sorted(got[0]) and len(got[0]) == 2
    with services.db.read() as s:
        rows = events.events_after(s, 0)
    assert [r.seq for r in rows] == got[0]


def test_rollback_publishes_nothing_and_stores_nothing(app_services):
    _, services = app_services
    got = []
    services.bus.subscribe(got.append)
    with pytest.raises(RuntimeError):
        with services.db.write() as s:
            events.record(s, "test", {"n": 1})
            s.flush()
            raise RuntimeError("boom")
    assert got == []
    with services.db.read() as s:
        assert s.query(Event).count() == 0


def test_case_and_its_event_commit_together(app_services):
    _, services = app_services
    got = []
    services.bus.subscribe(got.extend)
    with services.db.write() as s:
        w = make_district(s)
    services.reload_grids()
    lat, lon = grid_center(w["grids"][4])
    with services.db.write() as s:
        case, created = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon, description="垃圾"),
                                    locator=services.locator)
    assert created and case.grid_id == w["grids"][4].id
    assert [m["type"] for m in got] == ["case"]
    assert got[0]["payload"]["case"]["code"] == case.code


def test_concurrent_writers_keep_seq_equal_to_commit_order(app_services):
    """Whatever a reader has seen up to seq N, nothing with a smaller seq can appear later."""
    _, services = app_services
    published: list[int] = []
    lock = threading.Lock()

    def on(msgs):
        with lock:
            published.extend(m["seq"] for m in msgs)

    services.bus.subscribe(on)

    def writer(k: int) -> None:
        for i in range(20):
            with services.db.write() as s:
                events.record(s, "test", {"k": k, "i": i})
                events.record(s, "test", {"k": k, "i": i, "second": True})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with services.db.read() as s:
        seqs = [e.seq for e in events.events_after(s, 0, limit=5000)]
    assert len(seqs) == 160 and len(set(published)) == 160
    assert sorted(published) == seqs
