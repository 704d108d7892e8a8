"""Issue 25 item 7 (and 9, Open311 part): every phone, ID, landline and e-mail format below, and a reporter's
own name written with a space, is masked in what a wall receives and in the public Open311 feed; the feed lists
only public reports, at an approximate location; media_url takes http(s) only; XML-illegal characters never
reach (or break) the XML feed."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from dashboard.masking import mask_name, mask_text
from dashboard.models import Case
from dashboard.services.apikeys import create_api_key
from tests.security.conftest import POSITION_A

# (label, as typed in a description, what the screen shows instead)
FORMATS = [
    ("mobile +86", "+8613800138000", "+86138****8000"),
    ("mobile +86 spaced", "+86 139 1234 5678", "139****5678"),
    ("mobile 0086", "008613700137000", "137****7000"),
    ("mobile spaced", "138 0013 8001", "138****8001"),
    ("mobile dashed", "138-0013-8002", "138****8002"),
    ("mobile plain", "13800138003", "138****8003"),
    ("ID 15 digits", "610103850307123", "610103*****7123"),
    ("ID 18 digits X", "61010319850307123X", "610103********123X"),
    ("ID 18 digits x", "61010319850307124x", "610103********124x"),
    ("landline spaced", "029 87654321", "029****4321"),
    ("landline dashed", "029-87654322", "029****4322"),
    ("landline parenthesised", "(029)87654323", "029****4323"),
    ("landline full-width parentheses", "（029）87654324", "029****4324"),
    ("landline 4-digit area", "0917-8765432", "091****5432"),
    ("e-mail", "zhang.san@example.com", "z***@example.com"),
    ("e-mail plus", "li+si_2@mail.xa.gov.cn", "l***@mail.xa.gov.cn"),
]
# the reporter's own name, sent as Open311 last_name + first_name (stored "周 子涵") and typed without the space
OWN_NAME = ("周", "子涵")
OWN_TEXTS = [("own name, typed without the space", "我是周子涵", "我是周*涵"),
             ("own name, typed with a space", "周 子涵反映", "周*涵反映"),
             ("own name, typed with a full-width space", "周\u3000子涵再次反映", "周*涵再次反映")]


@pytest.mark.parametrize("label,raw,masked", FORMATS + OWN_TEXTS)
def test_mask_text_table(label, raw, masked):
    out = mask_text(f"联系{raw}，谢谢", ["周 子涵"])
    assert raw not in out, label
    assert masked in out, f"{label}: {out}"


def test_ordinary_numbers_stay_readable():
    # a case code, a time, a count, a house number are not personal data
    text = "案卷C20261207001 于2026-12-07 09:30上报，3号楼2单元501室，共12户"
    assert mask_text(text) == text


def test_names_are_normalised():
    assert mask_name("周 子涵") == "周*涵" and mask_name("王\u3000小明") == "王*明"
    assert mask_name("John Smith") == "J********h"


@pytest.fixture(scope="module")
def posted(world):
    """One Open311 report per format (and the own-name texts), by an integration key."""
    client = world.app.test_client()
    lat, lon = POSITION_A
    codes = {}
    for label, raw, _ in FORMATS + OWN_TEXTS:
        r = client.post("/open311/v2/requests.json", data={
            "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
            "description": f"垃圾堆放，联系{raw}，谢谢", "last_name": OWN_NAME[0], "first_name": OWN_NAME[1]})
        assert r.status_code == 200, r.get_data(as_text=True)
        codes[label] = r.get_json()[0]["service_request_id"]
    return codes


@pytest.mark.parametrize("label,raw,masked", FORMATS + OWN_TEXTS)
def test_wall_payload_is_masked(world, posted, label, raw, masked):
    wall = world.app.test_client()
    with world.services.db.write() as s:
        _, token = create_api_key(s, name=f"wall {label}", role="display")
    wall.environ_base["HTTP_X_API_KEY"] = token
    texts = []
    for url in ("/api/v1/snapshot", "/api/v1/events?after=0&limit=5000"):
        r = wall.get(url)
        assert r.status_code == 200, url
        texts.append(json.dumps(r.get_json(), ensure_ascii=False))
    text = "".join(texts)
    assert raw not in text, f"{label}: {raw!r} reaches the wall"
    assert masked in text, f"{label}: the wall did not receive the report"


@pytest.mark.parametrize("label,raw,masked", FORMATS + OWN_TEXTS)
def test_open311_feed_is_masked(world, posted, label, raw, masked):
    anon = world.app.test_client()
    r = anon.get("/open311/v2/requests.json")
    assert r.status_code == 200
    mine = [x for x in r.get_json() if x["service_request_id"] == posted[label]]
    assert mine, f"{label}: not in the feed"
    text = json.dumps(r.get_json(), ensure_ascii=False)
    assert raw not in text and masked in mine[0]["description"], f"{label}: {mine[0]['description']}"
    xml = anon.get(f"/open311/v2/requests/{posted[label]}.xml").get_data(as_text=True)
    assert raw not in xml and masked in xml


def test_feed_lists_only_public_reports_at_an_approximate_place(world, posted):
    anon = world.app.test_client()
    feed = anon.get("/open311/v2/requests.json").get_json()
    with world.services.db.read() as s:
        hotline = s.scalar(select(Case.code).where(Case.id == world.ids["case_a"]))
        app_case = s.scalar(select(Case.code).where(Case.id == world.ids["border_case_a"]))
    ids = {x["service_request_id"] for x in feed}
    assert set(posted.values()) <= ids
    assert hotline not in ids and app_case not in ids, "a hotline or field report is listed publicly"
    assert anon.get(f"/open311/v2/requests/{hotline}.json").status_code == 404
    assert anon.get(f"/open311/v2/requests.json?service_request_id={hotline}").get_json() == []
    lat, lon = POSITION_A
    for x in feed:
        assert x["lat"] == round(x["lat"], 3) and x["long"] == round(x["long"], 3)
    one = next(x for x in feed if x["service_request_id"] == posted["e-mail"])
    assert abs(one["lat"] - lat) < 0.001 and abs(one["long"] - lon) < 0.001
    assert (one["lat"], one["long"]) != (lat, lon)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd",
                                 "ftp://x.example/a.jpg", "//evil.example/a.jpg", "http:/no-host"])
def test_media_url_takes_http_only(world, url):
    client = world.app.test_client()
    lat, lon = POSITION_A
    with world.services.db.read() as s:
        before = s.query(Case).count()
    r = client.post("/open311/v2/requests.json", data={
        "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
        "description": "井盖缺失", "media_url": url})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert "media_url" in r.get_json()[0]["description"]
    with world.services.db.read() as s:
        assert s.query(Case).count() == before


def test_media_url_https_is_kept(world):
    client = world.app.test_client()
    lat, lon = POSITION_A
    r = client.post("/open311/v2/requests.json", data={
        "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
        "description": "井盖缺失", "media_url": "https://photos.example.org/a.jpg"})
    assert r.status_code == 200
    code = r.get_json()[0]["service_request_id"]
    one = client.get(f"/open311/v2/requests/{code}.json").get_json()[0]
    assert one["media_url"] == "https://photos.example.org/a.jpg"


def test_xml_illegal_characters_never_break_the_feed(world):
    client = world.app.test_client()
    lat, lon = POSITION_A
    r = client.post("/open311/v2/requests.xml", data={
        "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
        "description": "漏水\x0b严重\x00\x1f，\ufffe请处理", "address_string": "西一路\x0c8号"})
    assert r.status_code == 200, r.get_data(as_text=True)
    code = ET.fromstring(r.data).find("request/service_request_id").text
    with world.services.db.write() as s:  # an older row stored before input was cleaned
        c = s.scalar(select(Case).where(Case.code == code))
        assert c.description == "漏水严重，请处理" and c.address == "西一路8号"
        c.description = "旧数据\x0b\x1b带控制字符"
    root = ET.fromstring(client.get("/open311/v2/requests.xml").data)  # parses: the whole feed is not broken
    texts = [e.findtext("description") for e in root.iter("request")]
    assert "旧数据带控制字符" in texts


def test_attributes_are_masked_in_the_extended_feed(world):
    client = world.app.test_client()
    lat, lon = POSITION_A
    r = client.post("/open311/v2/requests.json", data={
        "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
        "description": "井盖缺失", "attribute[landmark]": "找物业李经理 138 0013 8009"})
    assert r.status_code == 200, r.get_data(as_text=True)
    code = r.get_json()[0]["service_request_id"]
    one = client.get(f"/open311/v2/requests/{code}.json?extensions=true").get_json()[0]
    assert one["attributes"]["landmark"] == "找物业李经理 138****8009"
