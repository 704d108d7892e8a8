"""OsmAnd / Traccar Client positions over HTTP: the PROTOCOLS.md B.8 vectors and the edge rules."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from dashboard.models import Alert, Position, Worker
from dashboard.services.osmand import KNOT_MS, OsmandError, parse_timestamp

DEVICES = ("123456", "902064", "353861053849681", "48241179", "123")


@pytest.fixture
def osm(district):
    """The test district with the devices of the vectors registered to worker W1..W5-like workers."""
    app, services, world = district
    with services.db.write() as s:
        w1 = s.get(Worker, world["worker_ids"][0])
        w1.device_id = "123456"
        for i, dev in enumerate(DEVICES[1:]):
            s.add(Worker(code=f"T{i}", name=f"测试{i}", device_id=dev, grid_id=world["grid_ids"][0]))
    return app.test_client(), services, world


def fixes(services, device: str) -> list[Position]:
    with services.db.read() as s:
        wid = s.scalar(select(Worker.id).where(Worker.device_id == device))
        return list(s.scalars(select(Position).where(Position.worker_id == wid).order_by(Position.fix_time)))


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def test_seconds_epoch(osm):
    client, services, world = osm
    r = client.get("/osmand?id=123456&timestamp=1377177267&lat=60.0&lon=30.0")
    assert r.status_code == 200 and r.data == b"" and r.headers["Content-Length"] == "0"
    (p,) = fixes(services, "123456")
    assert p.fix_time == utc(2013, 8, 22, 13, 14, 27) and (p.lat, p.lon) == (60.0, 30.0)
    assert p.outside is True and p.grid_id is None  # far outside the street: kept and flagged


def test_millisecond_epoch_hdop_altitude(osm):
    client, services, world = osm
    r = client.get("/osmand?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0"
                   "&speed=0.0")
    assert r.status_code == 200
    (p,) = fixes(services, "902064")
    assert p.fix_time == utc(2015, 9, 12, 14, 38, 6, 579000)
    assert p.attributes["hdop"] == 6.0 and p.attributes["altitude"] == 224.0 and p.speed == 0.0


def test_iso_timestamp(osm):
    client, services, world = osm
    assert client.get("/osmand?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z"
                      ).status_code == 200
    assert fixes(services, "902064")[0].fix_time == utc(2016, 1, 27, 18, 55, 47)


def test_local_time_format_is_shanghai(osm):
    client, services, world = osm
    r = client.get("/osmand?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&id=353861053849681")
    assert r.status_code == 200
    assert fixes(services, "353861053849681")[0].fix_time == utc(2014, 6, 4, 1, 10, 11)  # 09:10 +08:00


def test_location_pair(osm):
    client, services, world = osm
    assert client.get("/osmand?id=123456&timestamp=1377177267&location=60.0,30.0").status_code == 200
    (p,) = fixes(services, "123456")
    assert (p.lat, p.lon) == (60.0, 30.0)


def test_deviceid_alias_no_timestamp_uses_receive_time(osm):
    client, services, world = osm
    before = datetime.now(timezone.utc)
    assert client.get("/osmand?lat=60.0&lon=30.0&speed=0.0&heading=0.0&deviceid=123456").status_code == 200
    (p,) = fixes(services, "123456")
    assert p.fix_time >= before.replace(microsecond=0) and p.bearing == 0.0


def test_no_id_is_400(osm):
    client, services, world = osm
    r = client.get("/osmand?timestamp=1377177267&lat=60.0&lon=30.0")
    assert r.status_code == 400 and b"id" in r.data


def test_cell_wifi_without_location_is_accepted_not_stored(osm):
    client, services, world = osm
    r = client.get("/osmand?id=123456&timestamp=1377177267&cell=257,02,16,2224&wifi=00-14-22-01-23-45,-80")
    assert r.status_code == 200 and fixes(services, "123456") == []


def test_free_attributes(osm):
    client, services, world = osm
    assert client.get("/osmand?id=123&lat=1&lon=2&ignition=true&rpm=933&fuel=24").status_code == 200
    (p,) = fixes(services, "123")
    assert p.attributes == {"ignition": True, "rpm": 933, "fuel": 24}


def test_form_body_post_speed_in_knots(osm):
    client, services, world = osm
    lat, lon = world["centers"][4]
    r = client.post("/osmand", data=f"id=123456&lat={lat}&lon={lon}&timestamp=1764380000&speed=10.0&batt=87"
                                    "&charge=false", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and r.data == b""
    (p,) = fixes(services, "123456")
    assert p.speed == pytest.approx(10 * KNOT_MS) and p.battery == 87 and p.attributes["charge"] is False
    assert p.grid_id == world["grid_ids"][4] and p.outside is False
    with services.db.read() as s:
        w = s.get(Worker, world["worker_ids"][0])
        assert (w.last_lat, w.last_lon, w.last_battery) == (pytest.approx(lat), pytest.approx(lon), 87)


def test_query_string_wins_over_body(osm):
    client, services, world = osm
    r = client.post("/osmand?id=123456&lat=1&lon=2&timestamp=1377177267", data="id=999&lat=3&lon=4",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and (fixes(services, "123456")[0].lat, fixes(services, "123456")[0].lon) == (1, 2)


B5 = {"location": {"timestamp": "2025-06-15T13:45:12.862Z",
                   "coords": {"latitude": 37.4219983, "longitude": -122.084, "accuracy": 5, "speed": 2.5,
                              "heading": 90, "altitude": 5},
                   "is_moving": False, "odometer": 0, "event": "motionchange",
                   "battery": {"level": 0.76, "is_charging": False}, "activity": {"type": "still"},
                   "extras": {"shift": "day"},
                   "_": "&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},
      "device_id": "48241179"}


def test_json_object_b5(osm):
    client, services, world = osm
    r = client.post("/osmand", json=B5)
    assert r.status_code == 200 and r.data == b""
    (p,) = fixes(services, "48241179")
    assert p.fix_time == utc(2025, 6, 15, 13, 45, 12, 862000)
    assert p.speed == 2.5 and p.bearing == 90 and p.accuracy == 5 and p.battery == pytest.approx(76)
    assert p.attributes["activity"] == "still" and p.attributes["shift"] == "day" and p.attributes["motion"] is False


def test_json_without_coords_and_with_unknown_values(osm):
    client, services, world = osm
    no_coords = {"device_id": "48241179", "location": {"timestamp": "2025-06-15T13:45:12Z"}}
    assert client.post("/osmand", json=no_coords).status_code == 200 and fixes(services, "48241179") == []
    unknowns = {"device_id": "48241179", "location": {
        "timestamp": "2025-06-15T13:46:12Z", "coords": {"latitude": 37.42, "longitude": -122.08, "speed": -1,
                                                        "heading": -1}, "battery": {"level": -1}}}
    assert client.post("/osmand", json=unknowns).status_code == 200
    (p,) = fixes(services, "48241179")
    assert p.speed is None and p.bearing is None and p.battery is None


def test_unknown_device_400_for_query_and_form_404_for_json(osm):
    client, services, world = osm
    assert client.get("/osmand?id=nobody&lat=1&lon=2").status_code == 400
    assert client.post("/osmand", data="id=nobody&lat=1&lon=2",
                       content_type="application/x-www-form-urlencoded").status_code == 400
    assert client.post("/osmand", json={**B5, "device_id": "nobody"}).status_code == 404
    assert client.post("/osmand", json=[{"id": "nobody", "lat": 1, "lon": 2}]).status_code == 404


def test_json_array_batch(osm):
    client, services, world = osm
    batch = [{"id": "123456", "lat": 34.261, "lon": 108.951, "timestamp": 1764380000 + i, "speed": 1.0}
             for i in range(3)]
    assert client.post("/osmand", json=batch).status_code == 200
    assert len(fixes(services, "123456")) == 3
    assert client.post("/osmand", json=batch).status_code == 200  # a client retrying its buffer
    assert len(fixes(services, "123456")) == 3


@pytest.mark.parametrize("url", [
    "/osmand?id=123456&lat=95&lon=30",
    "/osmand?id=123456&lat=60&lon=-190",
    "/osmand?id=123456&lat=north&lon=30",
    "/osmand?id=123456&lat=60&lon=30&timestamp=yesterday",
    "/osmand?id=123456&lat=60&lon=30&timestamp=2016-01-27T18:55:47",
    "/osmand?id=123456&location=60.0",
    "/osmand?id=123456&lat=60&lon=30&batt=250",
])
def test_bad_values_400_and_nothing_stored(osm, url):
    client, services, world = osm
    assert client.get(url).status_code == 400
    assert fixes(services, "123456") == []


def test_bad_bodies(osm):
    client, services, world = osm
    assert client.post("/osmand", data="{not json", content_type="application/json").status_code == 400
    assert client.post("/osmand", json=[]).status_code == 400
    assert client.post("/osmand", json={"device_id": "48241179"}).status_code == 400  # no location
    assert client.post("/osmand", json={"device_id": "48241179", "location": {"coords": {}}}).status_code == 400
    assert client.post("/osmand", data="", content_type="application/x-www-form-urlencoded").status_code == 400


def test_duplicates_dropped_late_fix_kept_marker_not_moved_back(osm):
    client, services, world = osm
    (la, lo), (lb, lb_lon) = world["centers"][0], world["centers"][8]
    assert client.get(f"/osmand?id=123456&lat={lb}&lon={lb_lon}&timestamp=1764380600").status_code == 200
    assert client.get(f"/osmand?id=123456&lat={lb}&lon={lb_lon}&timestamp=1764380600").status_code == 200  # dup
    assert client.get(f"/osmand?id=123456&lat={la}&lon={lo}&timestamp=1764380000").status_code == 200  # late
    ps = fixes(services, "123456")
    assert len(ps) == 2 and ps[0].lat == pytest.approx(la)
    with services.db.read() as s:
        w = s.get(Worker, world["worker_ids"][0])
        assert w.last_lat == pytest.approx(lb) and w.last_grid_id == world["grid_ids"][8]
    assert services.frames.pending() == 1  # the marker move waits for the next live frame


def test_sos_alarm_raises_an_alert(osm):
    client, services, world = osm
    la, lo = world["centers"][0]
    assert client.get(f"/osmand?id=123456&lat={la}&lon={lo}&timestamp=1764380000&alarm=sos").status_code == 200
    with services.db.read() as s:
        a = s.scalar(select(Alert))
        assert a.source == "sos" and a.severity == "extreme" and a.grid_id == world["grid_ids"][0]


def test_timestamp_rules_unit():
    assert parse_timestamp("2147483646") == utc(2038, 1, 19, 3, 14, 6)
    assert parse_timestamp("2147483647") == datetime.fromtimestamp(2147483.647, tz=timezone.utc)
    assert parse_timestamp("2016-01-27T18:55:47+08:00") == utc(2016, 1, 27, 10, 55, 47)
    with pytest.raises(OsmandError):
        parse_timestamp("27/01/2016")


def test_dedicated_port_any_path(osm):

    from dashboard.api.osmand import make_osmand_app

    client, services, world = osm
    dedicated = make_osmand_app(services).test_client()
    assert dedicated.post("/", data="id=123456&lat=1&lon=2&timestamp=1377177267",
                          content_type="application/x-www-form-urlencoded").status_code == 200
    assert dedicated.get("/some/path?id=123456&lat=1&lon=3&timestamp=1377177268").status_code == 200
    assert dedicated.get("/?id=nobody&lat=1&lon=3").status_code == 400
    assert len(fixes(services, "123456")) == 2


def test_run_py_dedicated_port(live_server):
    """`run.py --osmand-port N` answers the protocol on its own port, any path, next to the main port."""
    import requests

    from tests.conftest import free_port

    port = free_port()
    srv = live_server("--no-sim", "--osmand-port", str(port))
    ok = requests.post(f"http://127.0.0.1:{port}/", data={"id": "XY422935", "lat": "34.27", "lon": "108.95",
                                                          "timestamp": "1764380000"}, timeout=5)
    assert ok.status_code == 200 and ok.text == ""
    assert requests.get(f"http://127.0.0.1:{port}/?id=nobody&lat=1&lon=2", timeout=5).status_code == 400
    main = requests.get(f"{srv.url}/osmand?id=XY422935&lat=34.27&lon=108.95&timestamp=1764380001", timeout=5)
    assert main.status_code == 200


def test_group_commit_concurrent_requests_share_transactions(osm):
    """Many phones at once: every fix stored once, a stranger refused alone, answers after commit."""
    from concurrent.futures import ThreadPoolExecutor

    from dashboard.services.group_commit import GroupCommit
    from dashboard.services.positions import Fix

    client, services, world = osm
    gc = GroupCommit(services, max_wait_s=0.02)
    la, lo = world["centers"][4]

    def one(i: int):
        dev = "nobody" if i == 7 else DEVICES[i % len(DEVICES)]
        return gc.submit([Fix(device_id=dev, fix_time=utc(2026, 11, 29, 1, 0, i), lat=la, lon=lo, source="osmand")])

    with ThreadPoolExecutor(12) as ex:
        tickets = list(ex.map(one, range(40)))
    assert [t.unknown for t in tickets if t.unknown] == [["nobody"]] and not any(t.error for t in tickets)
    stored = sum(len(fixes(services, d)) for d in DEVICES)
    assert stored == 39
    again = [one(i) for i in range(3)]  # client retries: duplicates are dropped, still answered OK
    assert not any(t.error or t.unknown for t in again)
    assert sum(len(fixes(services, d)) for d in DEVICES) == 39
