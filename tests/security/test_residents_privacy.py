"""A resident's call-back phone (issue 31) is personal data: after a report from /r with a phone number, and the
case's loop through dispatch, no wall, console list, leader or export payload, no Open311 answer, no event and no
socket message holds the number in clear — only the audited unmask of a role that may unmask gives it back."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from dashboard.services.residents import grid_link_param
from tests.security.conftest import build_world
from tests.security.matrix_probe import fill
from tests.security.test_access_matrix import EXPECTED

PHONE, OTHER = "13766665555", "13944443333"  # the call-back number, and a number the resident typed in her text
READERS = ("dispatcher", "dispatcher_a", "leader", "display", "integration", "worker", "admin")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("rprivacy"), with_pages=False)
    yield w
    w.services.shutdown()


def clear_numbers(text: str) -> set[str]:
    return {n for n in (PHONE, OTHER, "137-6666-5555", "137 6666 5555") if n in text}


def readable(resp) -> str:
    """A response's text; an Excel file's XML parts unzipped (its strings are in sharedStrings.xml)."""
    if resp.data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    return resp.get_data(as_text=True)


def test_a_residents_phone_never_leaves_unmasked(world):
    resident = world.app.test_client()  # anonymous, as the phone in the compound
    sockets = []
    for role in ("dispatcher", "display"):
        c = world.client(role)
        sock = world.services.socketio.test_client(world.app, flask_test_client=c,
                                                   headers={"X-API-Key": world.keys[role]})
        sock.get_received()
        sockets.append(sock)
    g = grid_link_param(world.app.config["SECRET_KEY"], "G00")
    r = resident.post("/api/v1/r/reports", data={"report": json.dumps({
        "g": g, "category": "noise", "description": f"夜里施工太吵，物业电话 {OTHER[:3]} {OTHER[3:7]} {OTHER[7:]}",
        "lat": 34.2610, "lon": 108.9510, "phone": "137-6666-5555"}, ensure_ascii=False)},
        content_type="multipart/form-data", headers={"Idempotency-Key": "privacy-0001"})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    street = world.client("dispatcher")
    case = next(c for c in street.get("/api/v1/cases?page_size=500").get_json()["items"] if c["source"] == "resident")
    assert case["reporter_phone"] == "137****5555"
    for action, body in (("register", {}), ("dispatch", {"worker_id": world.ids["worker_a"],
                                                         "note": f"请回电 {PHONE}"})):
        assert street.post(f"/api/v1/cases/{case['id']}/actions/{action}", json=body).status_code == 200

    urls: dict[str, list[str]] = {role: [] for role in READERS}
    for (rule, method), roles in EXPECTED.items():
        if method != "GET" or not rule.startswith(("/api/", "/open311/")):
            continue
        for role in READERS:
            if role in roles:
                urls[role].append(fill(rule.replace("<int:case_id>", str(case["id"]))))
    extra = ["/api/v1/snapshot", "/api/v1/events?after=0&limit=5000", f"/api/v1/cases/{case['id']}",
             f"/api/v1/cases/{case['id']}/view", "/api/v1/cases?page_size=500", "/api/v1/wall/stats",
             "/api/v1/briefing", "/api/v1/briefing/export.xlsx", "/api/v1/briefing/export.csv",
             "/open311/v2/requests.json?extensions=true", "/open311/v2/requests.xml?extensions=true",
             f"/open311/v2/requests/{case['id']}.json?extensions=true", "/api/v1/satisfaction"]
    walked = 0
    seen = []
    for role in READERS:
        client = world.client(role)
        for url in urls[role] + extra:
            resp = client.get(url)
            assert resp.status_code < 500, (role, url)
            if resp.status_code == 200:
                walked += 1
                text = readable(resp)
                assert not clear_numbers(text), f"{role} {url} shows {clear_numbers(text)}"
                seen.append(text)
    for url in ("/open311/v2/requests.json", "/open311/v2/requests.xml?extensions=true", f"/api/v1/r/tickets/{token}"):
        resp = resident.get(url)
        assert resp.status_code == 200 and not clear_numbers(resp.get_data(as_text=True)), url
        seen.append(resp.get_data(as_text=True))
    for sock in sockets:
        payloads = [json.dumps(m["args"], ensure_ascii=False) for m in sock.get_received()]
        assert payloads, "a socket received nothing"
        for p in payloads:
            assert not clear_numbers(p), p
        seen += payloads
        sock.disconnect()
    everything = "".join(seen)
    # the walk read the report itself, masked: the call-back number, the number in the text, the resident label
    assert "137****5555" in everything and "139****3333" in everything
    assert '"source": "resident"' in everything or '"source":"resident"' in everything
    assert walked >= 40, walked
    assert clear_numbers(f"{PHONE} {OTHER}") == {PHONE, OTHER}  # the check itself sees a clear number

    # the console's unmask gives it back to a role that may, on the record
    a = world.client("dispatcher")
    assert world.client("display").post("/api/v1/unmask", json={"kind": "case", "id": case["id"],
                                                                 "field": "reporter_phone",
                                                                 "reason": "回访居民"}).status_code == 403
    r = a.post("/api/v1/unmask", json={"kind": "case", "id": case["id"], "field": "reporter_phone", "reason": "回访居民"})
    assert r.status_code == 200 and r.get_json()["value"] == PHONE
    entry = world.client("admin").get("/api/v1/audit?action=unmask").get_json()["entries"][0]
    assert entry["target"] == f"case:{case['id']}" and entry["detail"]["field"] == "reporter_phone"
