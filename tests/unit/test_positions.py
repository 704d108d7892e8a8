"""Position ingest: duplicates dropped, late fixes kept without moving the marker back, SOS, frames."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from dashboard import events
from dashboard.models import Alert, Position, Worker
from dashboard.services.positions import Fix, PositionFrames, ingest_fixes
from tests.utils.factories import grid_center, make_district

T = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        ids = {"grids": [g.id for g in w["grids"]], "workers": [x.id for x in w["workers"]],
               "centers": [grid_center(g) for g in w["grids"]], "comm": [g.community_id for g in w["grids"]]}
    services.reload_grids()
    return services, ids


def _ingest(services, fixes, now=None):
    with services.db.write() as s:
        return ingest_fixes(s, fixes, locator=services.locator, now=now or T)


def test_same_fix_twice_is_stored_once(world):
    services, ids = world
    lat, lon = ids["centers"][0]
    r1 = _ingest(services, [Fix(device_id="DEV1", fix_time=T, lat=lat, lon=lon)])
    r2 = _ingest(services, [Fix(device_id="DEV1", fix_time=T, lat=lat, lon=lon),
                            Fix(device_id="DEV1", fix_time=T + timedelta(seconds=5), lat=lat, lon=lon)])
    assert (r1.accepted, r1.duplicates) == (1, 0)
    assert (r2.accepted, r2.duplicates) == (1, 1)
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Position)) == 2
        p = s.scalars(select(Position).order_by(Position.fix_time)).first()
        assert p.grid_id == ids["grids"][0] and not p.outside


def test_late_fix_is_stored_but_does_not_move_the_marker_back(world):
    services, ids = world
    (lat0, lon0), (lat1, lon1) = ids["centers"][0], ids["centers"][1]
    _ingest(services, [Fix(device_id="DEV1", fix_time=T, lat=lat1, lon=lon1)])
    late = _ingest(services, [Fix(device_id="DEV1", fix_time=T - timedelta(minutes=3), lat=lat0, lon=lon0)],
                   now=T + timedelta(seconds=2))
    assert late.accepted == 1 and late.moved == []
    with services.db.read() as s:
        w = s.get(Worker, ids["workers"][0])
        assert (w.last_lat, w.last_lon, w.last_fix_at) == (lat1, lon1, T)
        assert w.last_grid_id == ids["grids"][1]
        assert s.scalar(select(func.count()).select_from(Position)) == 2  # the track keeps both


def test_unknown_device_is_reported_and_outside_fix_flagged(world):
    services, ids = world
    r = _ingest(services, [Fix(device_id="NOPE", fix_time=T, lat=34.26, lon=108.95),
                           Fix(device_id="DEV2", fix_time=T, lat=34.5, lon=109.5)])
    assert r.unknown_devices == ["NOPE"]
    assert r.accepted == 1 and r.outside == 1
    with services.db.read() as s:
        p = s.scalar(select(Position))
        assert p.outside and p.grid_id is None and p.worker_id == ids["workers"][1]


def test_sos_raises_one_alert(world):
    services, ids = world
    lat, lon = ids["centers"][4]
    got = []
    services.bus.subscribe(got.extend)
    sos = Fix(device_id="DEV2", fix_time=T, lat=lat, lon=lon, alarm="sos")
    _ingest(services, [sos])
    _ingest(services, [Fix(device_id="DEV2", fix_time=T, lat=lat, lon=lon, alarm="sos")])  # resent
    with services.db.read() as s:
        alerts = list(s.scalars(select(Alert)))
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.source, a.kind, a.severity, a.worker_id, a.grid_id) == ("sos", "sos", "extreme", ids["workers"][1],
                                                                       ids["grids"][4])
    assert a.community_id == ids["comm"][4]
    assert [m["payload"]["alert"]["kind"] for m in got if m["type"] == "alert"] == ["sos"]
    assert "李四丰" not in str(got)  # names masked on the wire


def test_frames_are_written_a_few_communities_per_background_transaction(world, monkeypatch):
    """A city's second of moves is a frame for each of 334 communities; written in one transaction they held the
    write turn up to 0.9 s, and a person's report waited for it. Each background transaction now holds a few."""
    services, ids = world
    frames = PositionFrames(services.frames.grid_community)
    for k, g in enumerate((0, 4)):
        fix = Fix(device_id=f"DEV{k + 1}", fix_time=T, lat=ids["centers"][g][0], lon=ids["centers"][g][1])
        frames.add(_ingest(services, [fix], now=T).moved)
    turns: list[bool] = []
    real = services.db.write
    monkeypatch.setattr(services.db, "write", lambda bulk=False: turns.append(bulk) or real(bulk=bulk))
    assert frames.flush_in_turns(services.db, per_transaction=1) == 2
    assert turns == [True, True]  # two communities, one background transaction each
    with services.db.read() as s:
        evs = events.events_after(s, 0, types=["positions"])
    assert {e.community_id for e in evs} == {ids["comm"][0], ids["comm"][4]} and len(evs) == 2
    assert frames.flush_in_turns(services.db) == 0 and turns == [True, True]  # nothing new: no transaction


def test_frames_coalesce_moves_into_one_event_per_community(world):
    services, ids = world
    frames = PositionFrames(services.frames.grid_community)
    # 20 fixes of each worker within one frame interval
    for i in range(20):
        fixes = [Fix(device_id="DEV1", fix_time=T + timedelta(seconds=i), lat=ids["centers"][0][0] + i * 1e-5,
                     lon=ids["centers"][0][1]),
                 Fix(device_id="DEV2", fix_time=T + timedelta(seconds=i), lat=ids["centers"][4][0] + i * 1e-5,
                     lon=ids["centers"][4][1])]
        frames.add(_ingest(services, fixes, now=T + timedelta(seconds=i)).moved)
    assert frames.pending() == 2
    with services.db.write() as s:
        assert frames.flush(s) == 2
    with services.db.read() as s:
        evs = events.events_after(s, 0, types=["positions"])
    assert len(evs) == 2  # worker 1 is in community 1, worker 2 in community 2
    assert {e.community_id for e in evs} == {ids["comm"][0], ids["comm"][4]}
    for e in evs:
        (row,) = e.payload["workers"]
        assert row[1] == pytest.approx(ids["centers"][0 if row[0] == ids["workers"][0] else 4][0] + 19e-5)
    with services.db.write() as s:
        assert frames.flush(s) == 0  # nothing new, no event
    with services.db.read() as s:
        assert len(events.events_after(s, 0, types=["positions"])) == 2
