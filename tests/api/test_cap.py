"""CAP 1.2 in: polygon, circle, geocode and no area accepted; repeats are no-ops; Update/Cancel/expiry;
Exercise on its own channel; malformed or hostile XML gets a 400 and changes nothing."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.models import Alert, Event, Grid
from dashboard.services.cap import expire_alerts
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district

NS = "urn:oasis:names:tc:emergency:cap:1.2"


def cap(ident, *, sent="2026-11-28T09:30:00+08:00", status="Actual", msg_type="Alert", area="", severity="Severe",
        expires="2026-11-28T18:00:00+08:00", refs="", info=True, event="大风"):
    info_xml = f"""
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>{event}</event>
    <urgency>Expected</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>{expires}</expires>
    <headline>{event}橙色预警</headline>
    <description>预计今天下午有8级大风。</description>
    <instruction>加固广告牌等设施。</instruction>
    {area}
  </info>""" if info else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{NS}">
  <identifier>{ident}</identifier>
  <sender>xa-met@example.cn</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {f"<references>{refs}</references>" if refs else ""}{info_xml}
</alert>"""


# lat,lon pairs (latitude FIRST): a box over grids G00 and G01 of the test district
POLYGON = ("<area><areaDesc>一社区南部</areaDesc><polygon>34.2605,108.9505 34.2605,108.9525 34.2615,108.9525 "
           "34.2615,108.9505 34.2605,108.9505</polygon></area>")
CIRCLE = "<area><areaDesc>二社区中心</areaDesc><circle>34.263,108.953 0.05</circle></area>"
GEOCODE = "<area><areaDesc>一社区</areaDesc><geocode><valueName>community</valueName><value>S1C1</value></geocode></area>"


@pytest.fixture
def world(app_services):
    app, services = app_services
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    services.clock = lambda: datetime(2026, 11, 28, 9, 35, tzinfo=SHANGHAI)
    with services.db.read() as s:
        codes = dict(s.execute(select(Grid.id, Grid.code)).all())
    return app.test_client(), services, codes


def post(client, xml, **kw):
    return client.post("/api/v1/alerts/cap", data=xml.encode("utf-8"), content_type="application/cap+xml", **kw)


def counts(services):
    with services.db.read() as s:
        return (s.scalar(select(func.count()).select_from(Alert)), s.scalar(select(func.count()).select_from(Event)),
                tuple(s.execute(select(Alert.id, Alert.state)).all()))


def test_polygon_circle_geocode_and_no_area(world):
    client, services, codes = world
    r = post(client, cap("P1", area=POLYGON))
    assert r.status_code == 201, r.get_json()
    a = r.get_json()["alert"]
    assert sorted(codes[g] for g in a["grid_ids"]) == ["G00", "G01"]
    assert a["severity"] == "severe" and a["colour"] == "orange" and a["channel"] == "actual"
    assert a["area"]["type"] == "Polygon" and a["expires_at"] == "2026-11-28T18:00:00+08:00"
    assert a["lat"] == pytest.approx(34.261) and a["lon"] == pytest.approx(108.9515)  # lat/lon not swapped
    c = post(client, cap("C1", area=CIRCLE, severity="Extreme")).get_json()["alert"]
    assert [codes[g] for g in c["grid_ids"]] == ["G11"] and c["colour"] == "red"
    g = post(client, cap("G1", area=GEOCODE, severity="Minor")).get_json()["alert"]
    assert sorted(codes[x] for x in g["grid_ids"]) == ["G00", "G10", "G20"] and g["colour"] == "blue"
    n = post(client, cap("N1", severity="Moderate"))
    assert n.status_code == 201 and n.get_json()["alert"]["grid_ids"] == [] and n.get_json()["alert"]["area"] is None
    assert post(client, cap("N2", info=False)).status_code == 201
    items = client.get("/api/v1/alerts").get_json()["items"]
    assert {i["data"]["cap"]["identifier"] for i in items} == {"P1", "C1", "G1", "N1", "N2"}


def test_repeat_is_a_no_op(world):
    client, services, _ = world
    first = post(client, cap("R1", area=POLYGON))
    assert first.status_code == 201
    before = counts(services)
    again = post(client, cap("R1", area=POLYGON))
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert again.get_json()["alert"]["id"] == first.get_json()["alert"]["id"]
    assert counts(services) == before
    # the same identifier sent at another time is another message
    assert post(client, cap("R1", sent="2026-11-28T10:30:00+08:00")).status_code == 201


def test_update_and_cancel_through_references(world):
    client, services, _ = world
    old = post(client, cap("U1", area=POLYGON)).get_json()["alert"]
    ref = "xa-met@example.cn,U1,2026-11-28T09:30:00+08:00"
    upd = post(client, cap("U2", msg_type="Update", refs=ref, area=CIRCLE, sent="2026-11-28T10:00:00+08:00"))
    assert upd.status_code == 201 and upd.get_json()["alert"]["state"] == "new"
    with services.db.read() as s:
        o = s.get(Alert, old["id"])
        assert o.state == "resolved" and "superseded by U2" in o.resolve_comment
    ref2 = "xa-met@example.cn,U2,2026-11-28T10:00:00+08:00"
    can = post(client, cap("U3", msg_type="Cancel", refs=ref2, sent="2026-11-28T11:00:00+08:00"))
    assert can.status_code == 201 and can.get_json()["alert"]["state"] == "resolved"
    with services.db.read() as s:
        assert s.get(Alert, upd.get_json()["alert"]["id"]).state == "resolved"
    assert client.get("/api/v1/alerts").get_json()["items"] == []
    r = post(client, cap("U4", msg_type="Update"))  # an update must say what it updates
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "references"


def test_exercise_goes_to_its_own_channel_and_expiry_clears(world):
    client, services, _ = world
    ex = post(client, cap("E1", status="Exercise", area=CIRCLE)).get_json()["alert"]
    assert ex["channel"] == "exercise"
    post(client, cap("T1", status="Test"))
    assert client.get("/api/v1/alerts").get_json()["items"] == []
    assert {i["id"] for i in client.get("/api/v1/alerts?channel=exercise").get_json()["items"]} >= {ex["id"]}
    snap = client.get("/api/v1/snapshot").get_json()
    assert snap["alerts"] == []
    live = post(client, cap("X1", area=POLYGON, expires="2026-11-28T12:00:00+08:00")).get_json()["alert"]
    with services.db.write() as s:
        assert expire_alerts(s, now=datetime(2026, 11, 28, 11, 59, tzinfo=SHANGHAI)) == 0
    with services.db.write() as s:
        assert expire_alerts(s, now=datetime(2026, 11, 28, 12, 0, 1, tzinfo=SHANGHAI)) >= 1
    with services.db.read() as s:
        assert s.get(Alert, live["id"]).state == "resolved"
    # already expired when it arrives: recorded, not shown
    late = post(client, cap("X2", expires="2026-11-28T09:00:00+08:00")).get_json()["alert"]
    assert late["state"] == "resolved"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol4;</identifier></alert>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier>
<sender>a</sender><sent>2026-11-28T09:30:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope></alert>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/evil.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>D1</identifier></alert>"""


@pytest.mark.parametrize("body, field", [
    (BILLION_LAUGHS, "body"), (XXE, "body"), (EXTERNAL_DTD, "body"),
    ("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x", "body"),
    ("not xml at all", "body"), ("", "body"),
    (cap("W1").replace(NS, "urn:example:other"), "alert"),
    (cap("").replace("<identifier></identifier>", ""), "identifier"),
    (cap("S1", status="Real"), "status"),
    (cap("T1", sent="28/11/2026 09:30"), "sent"),
    (cap("P3", area="<area><areaDesc>x</areaDesc><polygon>34.26,108.95 34.27,108.95 34.26,108.95</polygon></area>"),
     "polygon"),
    (cap("P4", area="<area><areaDesc>x</areaDesc><polygon>34.26,108.95 34.27,108.95 34.27,108.96 34.26,108.96"
                    "</polygon></area>"), "polygon"),
    (cap("P5", area="<area><areaDesc>x</areaDesc><polygon>108.95,34.26 108.95,34.27 108.96,34.27 108.95,34.26"
                    "</polygon></area>"), "polygon"),   # lon,lat order: latitude out of range
    (cap("C2", area="<area><areaDesc>x</areaDesc><circle>34.26,108.95</circle></area>"), "circle"),
    (cap("V1", severity="Catastrophic"), "severity"),
])
def test_malformed_or_hostile_xml_is_400_and_changes_nothing(world, body, field):
    client, services, _ = world
    post(client, cap("OK1", area=POLYGON))
    before = counts(services)
    r = post(client, body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["field"] == field, r.get_json()
    assert counts(services) == before


def test_cap_needs_a_caller(world, tmp_path):
    client, services, _ = world
    r = client.post("/api/v1/alerts/cap", data=cap("A1").encode(), content_type="application/xml",
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 401
