"""The signed device webhook: 401 on a bad signature or outside the window, 409 on a replay
(nothing changed either way), alerts from the rules on good events."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.models import Alert, Event, Place
from dashboard.models.governance import AccessDevice, DeviceEvent
from dashboard.services.access_control import alert_rule, sign, signed_headers
from dashboard.timeutil import SHANGHAI, UTC, utcnow
from tests.utils.factories import make_district

SECRET = "s3cret-door-1"


@pytest.fixture
def world(app_services):
    app, services = app_services
    with services.db.write() as s:
        d = make_district(s)
        g = d["grids"][4]
        cp = Place(code="CP1", kind="compound", name="测试小区", grid_id=g.id, lat=g.centroid_lat, lon=g.centroid_lon)
        s.add(cp)
        s.flush()
        s.add(AccessDevice(device_id="DOOR-1", name="测试小区东门门禁", secret=SECRET, place_id=cp.id, grid_id=g.id,
                           community_id=g.community_id, lat=g.centroid_lat, lon=g.centroid_lon))
        ids = {"grid": g.id, "community": g.community_id, "place": cp.id}
    return app.test_client(), services, ids


def counts(services) -> tuple[int, int, int]:
    with services.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (DeviceEvent, Alert, Event))


def post(client, payload: dict, *, secret: str = SECRET, at: datetime | None = None, device: str = "DOOR-1",
         tamper=None):
    body = json.dumps(payload).encode()
    headers = signed_headers(device, secret, body, at=at)
    if tamper:
        headers = tamper(headers)
    return client.post("/api/v1/devices/events", data=body, headers=headers)


def test_good_event_creates_a_mapped_alert(world):
    client, services, ids = world
    r = post(client, {"event_id": "e1", "type": "door_forced"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["alert_created"] and body["grid_id"] == ids["grid"] and body["place_id"] == ids["place"]
    with services.db.read() as s:
        a = s.scalar(select(Alert))
        ev = s.scalar(select(DeviceEvent))
        assert (a.source, a.kind, a.grid_id, a.community_id) == ("device", "door_forced", ids["grid"], ids["community"])
        assert "测试小区" in a.title and a.severity == "moderate"
        assert ev.alert_id == a.id and ev.grid_id == ids["grid"]
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "alert")) == 1
    listed = client.get("/api/v1/devices")
    assert listed.status_code == 200 and listed.get_json()["devices"][0]["device_id"] == "DOOR-1"
    assert SECRET not in listed.get_data(as_text=True)


def flip_last(sig: str) -> str:
    """The signature with its last hex digit changed (always changed: "…00" was a no-op 1 time in 256)."""
    return sig[:-1] + ("1" if sig[-1] == "0" else "0")


TAMPERS = {
    "other-secret": lambda h: {**h, "X-GC-Signature": sign("wrong-secret", h["X-GC-Timestamp"], b'{"x": 1}')},
    "flipped": lambda h: {**h, "X-GC-Signature": flip_last(h["X-GC-Signature"])},
    "missing": lambda h: {k: v for k, v in h.items() if k != "X-GC-Signature"},
    "unknown-device": lambda h: {**h, "X-GC-Device": "DOOR-UNKNOWN"},
    "timestamp-changed": lambda h: {**h, "X-GC-Timestamp": str(int(h["X-GC-Timestamp"]) + 1)},  # signed too
}


def test_bad_signature_or_window_is_401_and_changes_nothing(world):
    client, services, _ = world
    before = counts(services)
    for name, tamper in TAMPERS.items():
        r = post(client, {"event_id": "e1", "type": "door_forced"}, tamper=tamper)
        assert r.status_code == 401 and r.get_json()["error"]["status"] == 401, name
    for skew in (-302, 302, -3600):  # whole seconds are signed: keep clear of the 300 s edge
        r = post(client, {"event_id": "e1", "type": "door_forced"}, at=utcnow() + timedelta(seconds=skew))
        assert r.status_code == 401 and "300" in r.get_json()["error"]["message"], skew
    # well signed but malformed: 400 naming the field
    assert post(client, {"event_id": "e1", "type": "teleported"}).status_code == 400
    assert post(client, {"type": "door_forced"}).status_code == 400
    assert post(client, {"event_id": "e2", "type": "door_held_open"}).status_code == 400  # no duration
    assert counts(services) == before
    with services.db.read() as s:
        assert s.scalar(select(AccessDevice.last_seen_at)) is None


def test_replayed_event_id_is_409_and_changes_nothing(world):
    client, services, _ = world
    # inside the window (250 s old) is accepted
    assert post(client, {"event_id": "e1", "type": "door_forced"}, at=utcnow() - timedelta(seconds=250)).status_code == 201
    before = counts(services)
    # the same event re-signed (a captured request replayed with a fresh timestamp would fail the signature)
    r = post(client, {"event_id": "e1", "type": "smoke_alarm"})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "event_id"
    assert counts(services) == before


def _local(h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, 20, h, m, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize("occurred,duration,alerted", [
    (_local(23, 30), 301, True),    # night, just over 5 min
    (_local(2, 0), 900, True),
    (_local(23, 30), 300, False),   # exactly 5 min is not "more than"
    (_local(14, 0), 3600, False),   # daytime
    (_local(22, 3), 600, True),     # opened 21:53, still open past 22:00
    (_local(21, 58), 600, False),   # over 5 min from 21:53, but closed before 22:00
    (_local(6, 10), 1200, True),    # opened 05:50, over 5 min at 05:55 (night)
    (_local(6, 10), 400, False),    # over 5 min only at 06:08
])
def test_door_held_open_rule(occurred, duration, alerted):
    assert (alert_rule("door_held_open", occurred, duration, "e1") is not None) is alerted


def test_door_held_open_at_night_alerts_by_day_does_not(world):
    client, services, _ = world
    night = post(client, {"event_id": "h1", "type": "door_held_open", "duration_s": 900,
                          "occurred_at": _local(23, 30).isoformat()})
    day = post(client, {"event_id": "h2", "type": "door_held_open", "duration_s": 900,
                        "occurred_at": _local(14, 0).isoformat()})
    # the same opening reported again five minutes later: the same alert, not a second one
    again = post(client, {"event_id": "h3", "type": "door_held_open", "duration_s": 1200,
                          "occurred_at": _local(23, 35).isoformat()})
    assert night.status_code == day.status_code == again.status_code == 201
    assert night.get_json()["alert"]["kind"] == "door_held_open" and day.get_json()["alert"] is None
    assert not again.get_json()["alert_created"] and again.get_json()["alert"]["id"] == night.get_json()["alert"]["id"]
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(DeviceEvent)) == 3


def test_smoke_is_severe_offline_is_minor_and_repeats_deduplicate(world):
    client, services, _ = world
    r1 = post(client, {"event_id": "s1", "type": "smoke_alarm"})
    r2 = post(client, {"event_id": "s2", "type": "smoke_alarm"})
    assert r1.get_json()["alert"]["severity"] == "severe"
    assert r1.get_json()["alert_created"] and not r2.get_json()["alert_created"]
    assert r1.get_json()["alert"]["id"] == r2.get_json()["alert"]["id"]
    r3 = post(client, {"event_id": "o1", "type": "device_offline"})
    assert r3.get_json()["alert"]["severity"] == "minor"
    with services.db.read() as s:
        assert s.scalar(select(AccessDevice.online)) is False
        assert s.scalar(select(func.count()).select_from(DeviceEvent)) == 3
        assert s.scalar(select(func.count()).select_from(Alert)) == 2
    assert post(client, {"event_id": "on1", "type": "device_online"}).get_json()["alert"] is None
    with services.db.read() as s:
        assert s.scalar(select(AccessDevice.online)) is True
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "device")) == 2
