"""Open311 GeoReport v2 over HTTP: discovery, services, definitions, requests, tokens, errors; JSON and XML."""
from __future__ import annotations

import json

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select

from dashboard.models import Case, Grid
from tests.api.conftest import make_key

B = "/open311/v2"


@pytest.fixture
def o311(district):
    app, services, world = district
    return app.test_client(), services, world, make_key(services, "integration")


def xml(resp):
    assert resp.content_type == "text/xml; charset=utf-8"
    assert resp.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return SafeET.fromstring(resp.data)


def post(client, key, fmt="json", **form):
    data = {"api_key": key, **form} if key is not None else form
    return client.post(f"{B}/requests.{fmt}", data=data, content_type="application/x-www-form-urlencoded")


def test_discovery_both_formats(o311):
    client, services, world, key = o311
    j = client.get(f"{B}/discovery.json")
    assert j.content_type == "application/json; charset=utf-8"
    d = j.get_json()
    assert d["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert d["endpoints"][0]["formats"] == ["text/xml", "application/json"] and d["changeset"]
    root = xml(client.get(f"{B}/discovery.xml"))
    assert root.tag == "discovery" and [f.text for f in root.find("endpoints/endpoint/formats")] == [
        "text/xml", "application/json"]


def test_services_and_definitions(o311):
    client, services, world, key = o311
    lst = client.get(f"{B}/services.json").get_json()
    assert isinstance(lst, list) and [s["service_code"] for s in lst] == ["0101", "0401", "0601"]
    assert lst[0]["group"] == "市容环境" and lst[0]["type"] == "realtime" and isinstance(lst[0]["service_code"], str)
    root = xml(client.get(f"{B}/services.xml"))
    assert root.tag == "services" and root.find("service/service_code").text == "0101"
    d = client.get(f"{B}/services/0401.json").get_json()
    assert d["service_code"] == "0401"
    codes = {a["code"]: a for a in d["attributes"]}
    assert codes["people_at_risk"]["required"] is True and codes["time_seen"]["datatype"] == "multivaluelist"
    droot = xml(client.get(f"{B}/services/0401.xml"))
    assert droot.tag == "service_definition"
    assert [v.find("key").text for v in droot.find("attributes/attribute[code='time_seen']/values")] == [
        "morning", "afternoon", "evening", "night"]
    nf = client.get(f"{B}/services/9999.json")
    assert nf.status_code == 404 and nf.get_json()[0]["code"] == 404
    assert xml(client.get(f"{B}/services/9999.xml")).find("error/code").text == "404"


def test_post_request_becomes_a_case_in_triage(o311):
    client, services, world, key = o311
    lat, lon = world["centers"][4]
    r = post(client, key, service_code="0401", lat=str(lat), long=str(lon), description="消防通道被电动车堵住",
             first_name="三", last_name="张", phone="13812345678", email="z@example.com",
             **{"attribute[people_at_risk]": "no", "attribute[landmark]": "北门"})
    assert r.status_code == 200, r.data
    (ack,) = r.get_json()
    rid = ack["service_request_id"]
    assert isinstance(rid, str) and "token" not in ack
    with services.db.read() as s:
        c = s.scalar(select(Case).where(Case.code == rid))
        assert c.source == "open311" and c.state == "reported" and c.grid_id == world["grid_ids"][4]
        assert c.reporter_phone == "13812345678" and c.reporter_name == "张 三"  # stored …
    one = client.get(f"{B}/requests/{rid}.json")
    body = one.data.decode()
    assert "13812345678" not in body and "z@example.com" not in body and "张 三" not in body  # … never served
    (req,) = one.get_json()
    assert req["status"] == "open" and req["status_notes"] == "已上报，等待受理"
    assert req["lat"] == pytest.approx(lat) and req["long"] == pytest.approx(lon) and req["service_code"] == "0401"
    ext = client.get(f"{B}/requests/{rid}.json?extensions=true").get_json()[0]
    assert ext["extended_attributes"]["state"] == "reported" and ext["attributes"]["landmark"] == "北门"
    assert ext["notes"][0]["description"] == "上报"
    rx = xml(client.get(f"{B}/requests/{rid}.xml"))
    assert rx.tag == "service_requests" and rx.find("request/service_request_id").text == rid
    assert rx.find("request/zipcode").text is None  # empty element ⇔ JSON null
    # the case is visible through the field API too, masked
    case = client.get("/api/v1/cases?state=reported", headers={"X-API-Key": key}).get_json()["items"][0]
    assert case["source"] == "open311" and case["reporter_phone"] == "138****5678"


def test_a_community_key_files_requests_in_its_community_only(o311):
    client, services, world, _ = o311
    with services.db.read() as s:
        comm = dict(s.execute(select(Grid.id, Grid.community_id).where(Grid.id.in_(world["grid_ids"]))).all())
    mine = comm[world["grid_ids"][0]]
    inside = next(i for i, g in enumerate(world["grid_ids"]) if comm[g] == mine)
    outside = next(i for i, g in enumerate(world["grid_ids"]) if comm[g] != mine)
    key = make_key(services, "integration", community_id=mine)
    with services.db.read() as s:
        before = s.scalar(select(func.count()).select_from(Case))
    lat, lon = world["centers"][outside]
    r = post(client, key, service_code="0101", lat=str(lat), long=str(lon), description="路灯不亮")
    assert r.status_code == 403 and "lat/long" in r.get_json()[0]["description"], r.data
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before  # refused: nothing written
    lat, lon = world["centers"][inside]
    r = post(client, key, service_code="0101", lat=str(lat), long=str(lon), description="路灯不亮")
    assert r.status_code == 200, r.data
    with services.db.read() as s:
        c = s.scalar(select(Case).where(Case.code == r.get_json()[0]["service_request_id"]))
        assert c.community_id == mine


def test_multivaluelist_php_keys_and_address_only(o311):
    client, services, world, key = o311
    r = client.post(f"{B}/requests.xml", content_type="application/x-www-form-urlencoded",
                    data="api_key=" + key + "&service_code=0101&address_string=%E8%A5%BF%E4%B8%80%E8%B7%AF1%E5%8F%B7"
                         "&attribute%5Btime_seen%5D%5B%5D=morning&attribute%5Btime_seen%5D%5B%5D=night")
    assert r.status_code == 200
    rid = xml(r).find("request/service_request_id").text
    ext = client.get(f"{B}/requests/{rid}.json?extensions=true").get_json()[0]
    assert ext["attributes"]["time_seen"] == ["morning", "night"] and ext["address"] == "西一路1号"
    assert ext["lat"] is None


@pytest.mark.parametrize("form,status,words", [
    ({"service_code": "0101", "lat": "34.26", "long": "108.95", "api_key": "wrong"}, 403, "api_key"),
    ({"service_code": "0101", "lat": "34.26", "long": "108.95"}, 403, "api_key"),
    ({"lat": "34.26", "long": "108.95"}, 400, "service_code"),
    ({"service_code": "9999", "lat": "34.26", "long": "108.95"}, 404, "service_code"),
    ({"service_code": "0101"}, 400, "location"),
    ({"service_code": "0101", "lat": "34.26"}, 400, "lat and long"),
    ({"service_code": "0101", "lat": "95", "long": "108.95"}, 400, "lat"),
    ({"service_code": "0101", "lat": "34.2", "long": "-181"}, 400, "long"),
    ({"service_code": "0101", "lat": "north", "long": "108.95"}, 400, "decimal"),
    ({"service_code": "0401", "lat": "34.26", "long": "108.95"}, 400, "people_at_risk"),
    ({"service_code": "0401", "lat": "34.26", "long": "108.95", "attribute[people_at_risk]": "maybe"}, 400, "one of"),
    ({"service_code": "0101", "lat": "34.26", "long": "108.95", "attribute[colour]": "red"}, 400, "colour"),
    ({"service_code": "0101", "lat": "34.26", "long": "108.95", "attribute(x)": "1"}, 400, "malformed"),
    ({"service_code": "0101", "lat": "34.26", "long": "108.95", "description": "x" * 4001}, 400, "4000"),
    ({"service_code": "0101", "lat": "34.26", "long": "108.95", "jurisdiction_id": "elsewhere.gov"}, 404,
     "jurisdiction"),
])
def test_post_errors(o311, form, status, words):
    client, services, world, key = o311
    data = {"api_key": key, **form} if status != 403 else form
    for fmt in ("json", "xml"):
        r = client.post(f"{B}/requests.{fmt}", data=data, content_type="application/x-www-form-urlencoded")
        assert r.status_code == status, r.data
        if fmt == "json":
            err = r.get_json()
            assert err[0]["code"] == status and words in err[0]["description"]
        else:
            assert xml(r).find("error/code").text == str(status)
    with services.db.read() as s:
        assert s.scalar(select(Case)) is None


def test_empty_optional_args_are_absent(o311):
    client, services, world, key = o311
    lat, lon = world["centers"][0]
    r = post(client, key, service_code="0101", lat=str(lat), long=str(lon), address_id="", email="",
             jurisdiction_id="", media_url="", device_id="", first_name="", phone="")
    assert r.status_code == 200, r.get_data(as_text=True)  # "" is no jurisdiction (not an unknown one), no URL
    code = r.get_json()[0]["service_request_id"]
    with services.db.read() as s:
        c = s.scalar(select(Case).where(Case.code == code))
        assert (c.reporter_email, c.reporter_phone, c.reporter_name, c.media_url) == (None, None, None, None)
        assert (c.attributes["address_id"], c.attributes["device_id"]) == (None, None)
    (shown,) = client.get(f"{B}/requests/{code}.json").get_json()
    assert shown["media_url"] is None and shown["address_id"] is None
    # an empty address_id is no location either
    r = post(client, key, service_code="0101", address_id="")
    assert r.status_code == 400 and "location is required" in r.get_json()[0]["description"]


def test_query_filters_limits_and_status(o311):
    from dashboard.models import Case as C
    from dashboard.services.cases import transition

    client, services, world, key = o311
    lat, lon = world["centers"][0]
    ids = [post(client, key, service_code=code, lat=str(lat), long=str(lon)).get_json()[0]["service_request_id"]
           for code in ("0101", "0101", "0601")]
    with services.db.write() as s:
        c = s.scalar(select(C).where(C.code == ids[0]))
        transition(s, c, "void", actor="值班员", note="重复")
    assert len(client.get(f"{B}/requests.json").get_json()) == 3
    assert len(client.get(f"{B}/requests.json?service_code=0101").get_json()) == 2
    assert len(client.get(f"{B}/requests.json?service_code=0101,0601").get_json()) == 3
    closed = client.get(f"{B}/requests.json?status=closed").get_json()
    assert [r["service_request_id"] for r in closed] == [ids[0]] and closed[0]["status_notes"] == "已作废"
    assert len(client.get(f"{B}/requests.json?status=open").get_json()) == 2
    assert len(client.get(f"{B}/requests.json?status=open,closed").get_json()) == 3
    # service_request_id overrides every other filter
    got = client.get(f"{B}/requests.json?service_request_id={ids[0]},{ids[2]}&status=open&service_code=0101")
    assert sorted(r["service_request_id"] for r in got.get_json()) == sorted([ids[0], ids[2]])
    assert client.get(f"{B}/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"
                      ).get_json() == []
    page = client.get(f"{B}/requests.json?page=2&page_size=2").get_json()
    assert len(page) == 1
    assert xml(client.get(f"{B}/requests.xml?status=closed")).find("request/status").text == "closed"


@pytest.mark.parametrize("query,words", [
    ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90 days"),
    ("start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "before"),
    ("start_date=yesterday", "W3C"),
    ("start_date=2026-01-01T00:00:00", "zone"),
    ("status=pending", "status"),
    ("page_size=5000", "page_size"),
    ("page=0", "page"),
])
def test_query_errors(o311, query, words):
    client, services, world, key = o311
    r = client.get(f"{B}/requests.json?{query}")
    assert r.status_code == 400 and words in r.get_json()[0]["description"]


def test_not_found_routes(o311):
    client, services, world, key = o311
    r = client.get(f"{B}/requests/NOPE.json")
    assert r.status_code == 404 and r.get_json() == [{"code": 404, "description": "service_request_id NOPE not found"}]
    assert client.get(f"{B}/tokens/abc.json").status_code == 404
    assert xml(client.get(f"{B}/tokens/abc.xml")).find("error/code").text == "404"
    assert client.get(f"{B}/services.html").status_code == 400
    assert client.get(f"{B}/nothing.xml").status_code == 404
    assert client.get(f"{B}/services.json?jurisdiction_id=other.org").status_code == 404
    assert json.loads(client.get(f"{B}/services.json?jurisdiction_id=").data)  # empty = absent
