"""A wall signed in with its display token: every JSON and socket payload it can receive holds no
unmasked name, phone or ID number of anyone in the database."""
from __future__ import annotations

import json

from sqlalchemy import select

from dashboard.models import Case, Contact, User, Worker
from dashboard.services.alerts import raise_alert
from dashboard.services.apikeys import create_api_key
from tests.security.conftest import CITIZENS
from tests.security.test_access_matrix import EXPECTED
from tests.security.matrix_probe import fill

# wall paths that need real ids or parameters to say anything
PARAMS = {"/api/v1/grids/<int:grid_id>/register": ["grid_a", "grid_b"]}
# people the system knows who are nobody's reporter or assignee: they show up only in others' free text
BUILDING_HEAD, DUTY_OFFICER = ("钱学勤", "13500003333"), ("孙铭远", "dutyoff")


def secrets_in_db(world) -> set[str]:
    """Every raw name, phone and ID number the database holds for people."""
    out = set()
    with world.services.db.read() as s:
        for model in (Worker, Contact):
            for name, phone in s.execute(select(model.name, model.phone)):
                out |= {name, phone}
        for name, phone in s.execute(select(Case.reporter_name, Case.reporter_phone)):
            out |= {name, phone}
        out |= {d for d, u in s.execute(select(User.display_name, User.username)) if d != u}
    for name, phone, idno in CITIZENS.values():
        out |= {name, phone, idno}
    return {x for x in out if x and len(x) > 1}


def leaks(text: str, secrets: set[str]) -> set[str]:
    return {x for x in secrets if x in text}


def display_client(world):
    with world.services.db.write() as s:
        _, token = create_api_key(s, name="lobby wall", role="display")
    c = world.app.test_client()
    r = c.get(f"/wall?display_token={token}")
    assert r.status_code == 302 and "display_token" not in r.headers["Location"]
    return c, token


def wall_urls(world) -> list[str]:
    """Every GET path the display role may read, with sample and real ids."""
    urls = []
    for (rule, method), roles in EXPECTED.items():
        if method != "GET" or "display" not in roles or not rule.startswith("/api/"):
            continue
        if rule in PARAMS:
            for key in PARAMS[rule]:
                urls.append(rule.replace("<int:grid_id>", str(world.ids[key])))
        else:
            urls.append(fill(rule))
    return urls + ["/api/v1/events?after=0&limit=5000", "/api/v1/snapshot", "/wall", "/wall-poll"]


def add_bystanders(world) -> None:
    """A building head and a user with a display name: in the name index, on no case of their own."""
    with world.services.db.write() as s:
        if s.scalar(select(Contact).where(Contact.name == BUILDING_HEAD[0])) is None:
            s.add(Contact(level="building", title="楼栋长", name=BUILDING_HEAD[0], phone=BUILDING_HEAD[1],
                          community_id=world.ids["community_a"], grid_id=world.ids["grid_a"]))
            s.add(User(username=DUTY_OFFICER[1], display_name=DUTY_OFFICER[0], role="dispatcher"))


def test_every_wall_payload_is_masked(world):
    add_bystanders(world)
    secrets = secrets_in_db(world)
    assert {"张三", "13812345678", "王小明", "110101199003071234", "李四丰", BUILDING_HEAD[0],
            DUTY_OFFICER[0]} <= secrets
    client, _ = display_client(world)
    sock = world.services.socketio.test_client(world.app, flask_test_client=client)
    sock.get_received()
    # live traffic while the wall listens: a report naming its reporter (a worker in the DB) and quoting
    # a phone and an ID number, a dispatch, a worker moving
    street = world.client("dispatcher")
    name, phone, idno = "张三", "13511112222", "610103199901019876"
    r = street.post("/api/v1/cases", json={"category_code": "0601", "description": f"{name} 电话 {phone} 身份证 {idno}",
                                           "lat": 34.261, "lon": 108.951, "worker_id": world.ids["worker_a"]})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    secrets |= {phone, idno}
    case_id = r.get_json()["id"]
    street.post(f"/api/v1/cases/{case_id}/actions/register", json={})
    street.post(f"/api/v1/cases/{case_id}/actions/dispatch", json={"worker_id": world.ids["worker_a"],
                                                                    "note": f"联系 {phone}"})
    # free text naming people who are not this case's own: another worker, a building head, another
    # case's citizen, a user — typed by a grid worker, in an alert and in an activity title
    others = f"李四丰说{BUILDING_HEAD[0]}家门口漏水，{CITIZENS['A'][0]}也来电，{DUTY_OFFICER[0]}已知悉"
    r = street.post("/api/v1/cases", json={"category_code": "0101", "description": others, "address": "李四丰家楼下",
                                           "lat": 34.261, "lon": 108.951, "worker_id": world.ids["worker_a"]})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    street.post(f"/api/v1/cases/{r.get_json()['id']}/actions/register", json={"note": f"转{BUILDING_HEAD[0]}协调"})
    with world.services.db.write() as s:
        raise_alert(s, source="rule", kind="gas", title=f"{BUILDING_HEAD[0]}家燃气报警", severity="severe",
                    description=f"李四丰已通知 {BUILDING_HEAD[1]}", grid_id=world.ids["grid_a"],
                    community_id=world.ids["community_a"], lat=34.261, lon=108.951)
    r = street.post("/api/v1/governance/activities", json={
        "kind": "volunteer_service", "title": f"走访{BUILDING_HEAD[0]}家", "grid_code": "G00",
        "started_at": "2026-11-20 09:30"})
    assert r.status_code == 201, r.get_data(as_text=True)
    world.client("integration").post("/api/v1/positions", json={"device_id": "DEV1", "fixes": [
        {"lat": 34.2605, "lon": 108.9505}]})
    with world.services.db.write() as s:
        world.services.frames.flush(s)
    walked, seen_text = 0, []
    for url in wall_urls(world):
        resp = client.get(url)
        assert resp.status_code < 500, url
        if resp.status_code == 200:
            walked += 1
            text = resp.get_data(as_text=True)
            seen_text.append(text)
            assert not leaks(text, secrets), f"{url} leaks {leaks(text, secrets)}"
    payloads = [json.dumps(m["args"], ensure_ascii=False) for m in sock.get_received()]
    assert payloads, "the wall's socket received nothing"
    for p in payloads:
        assert not leaks(p, secrets), f"socket payload leaks {leaks(p, secrets)}"
    # the walk saw the people, masked (so it did read real data)
    everything = "".join(seen_text + payloads)
    assert "张*" in everything and "137****1111" in everything and "610103********9876" in everything
    assert "李*丰说钱*勤家门口漏水，王*明也来电，孙*远已知悉" in everything and "钱*勤家燃气报警" in everything
    assert "走访钱*勤家" in everything
    assert walked >= 15
    sock.disconnect()


def test_unmask_is_a_logged_console_action(world):
    cid = world.ids["case_a"]
    display, _ = display_client(world)
    assert display.post("/api/v1/unmask", json={"kind": "case", "id": cid, "field": "reporter_phone",
                                                "reason": "回访核实"}).status_code == 403
    a = world.client("dispatcher_a")
    assert a.post("/api/v1/unmask", json={"kind": "case", "id": cid, "field": "reporter_phone"}).status_code == 422
    r = a.post("/api/v1/unmask", json={"kind": "case", "id": cid, "field": "reporter_phone", "reason": "回访核实"})
    assert r.status_code == 200 and r.get_json()["value"] == CITIZENS["A"][1]
    # another community's record: not found for community A's operator
    assert a.post("/api/v1/unmask", json={"kind": "case", "id": world.ids["case_b"], "field": "reporter_name",
                                          "reason": "回访核实"}).status_code == 404
    log = world.client("admin").get("/api/v1/audit?action=unmask").get_json()
    entry = log["entries"][0]
    assert entry["target"] == f"case:{cid}" and entry["detail"] == {"field": "reporter_phone", "reason": "回访核实"}
    assert entry["role"] == "dispatcher" and entry["ip"] and log["retention_days"] >= 180
    # free text: masked on every screen (the console's case view too), clear through the audited action
    add_bystanders(world)
    with world.services.db.write() as s:
        s.get(Case, cid).description = f"{BUILDING_HEAD[0]}来电 {CITIZENS['A'][1]}"
    view = a.get(f"/api/v1/cases/{cid}/view").get_json()
    assert view["description"] == f"钱*勤来电 {CITIZENS['A'][1][:3]}****{CITIZENS['A'][1][-4:]}"
    r = a.post("/api/v1/unmask", json={"kind": "case", "id": cid, "field": "description", "reason": "回访核实"})
    assert r.status_code == 200 and r.get_json()["value"] == f"{BUILDING_HEAD[0]}来电 {CITIZENS['A'][1]}"
    entry = world.client("admin").get("/api/v1/audit?action=unmask").get_json()["entries"][0]
    assert entry["target"] == f"case:{cid}" and entry["detail"]["field"] == "description"
