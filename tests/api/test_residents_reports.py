"""Residents' reports from /r (issue 31): report → triage → dispatch → finish → tracking → satisfaction and rework once;
the abuse limits (address, phone, the signed challenge), hostile input and forged links. The clock is the test's."""
from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from sqlalchemy import select

from dashboard.events import events_after
from dashboard.models import AuditLog, Case, ResidentTicket, Worker
from dashboard.services import residents as svc
from dashboard.timeutil import SHANGHAI
from tests.api.conftest import jpeg_bytes, make_key


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


class Clock:
    def __init__(self) -> None:
        self.t = sh(2026, 12, 7, 9, 0)

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def rworld(district):
    app, services, world = district
    clock = Clock()
    services.clock = clock
    secret = app.config["SECRET_KEY"]
    with services.db.read() as s:
        w1 = s.scalar(select(Worker).where(Worker.code == "W1"))
        wid = w1.id
    ids = {"g": svc.grid_link_param(secret, "G00"), "g11": svc.grid_link_param(secret, "G11"),
           "lat": world["centers"][0][0], "lon": world["centers"][0][1], "w1": wid,
           "dispatcher": {"Authorization": f"Bearer {make_key(services, 'dispatcher')}"},
           "worker": {"Authorization": f"Bearer {make_key(services, 'worker', worker_id=wid)}"}}
    return app.test_client(), services, clock, ids, world


def post_report(client, ids, *, key="key-0001", photos=(), status=201, addr="10.0.0.1", **fields):
    body = {"g": ids["g"], "category": "garbage", "description": "楼下垃圾三天没人清运", "lat": ids["lat"],
            "lon": ids["lon"], **fields}
    data = {"report": json.dumps(body, ensure_ascii=False)}
    if photos:
        data["photo"] = [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]
    r = client.post("/api/v1/r/reports", data=data, content_type="multipart/form-data",
                    headers={"Idempotency-Key": key} if key else {}, environ_base={"REMOTE_ADDR": addr})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def ticket_of(services, token) -> ResidentTicket:
    with services.db.read() as s:
        t = s.scalar(select(ResidentTicket).where(ResidentTicket.token == token))
        s.expunge(t)
        return t


def case_of(services, case_id) -> Case:
    with services.db.read() as s:
        c = s.get(Case, case_id)
        s.expunge(c)
        return c


def act(client, clock, ids, case_id, action, t, **body):
    clock.t = t
    r = client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=ids["dispatcher"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_resident_report_goes_round_the_loop_and_is_reworked_once(rworld):
    client, services, clock, ids, world = rworld
    with services.db.read() as s:
        seq0 = max([e.seq for e in events_after(s, 0)] or [0])
    out = post_report(client, ids, photos=[jpeg_bytes()], phone="139 1234 5678")
    assert out["tracking_code"].startswith("R") and len(out["token"]) >= 40
    again = post_report(client, ids, photos=[jpeg_bytes()], status=200, phone="139 1234 5678")  # a retry
    assert again == out
    t = ticket_of(services, out["token"])
    c = case_of(services, t.case_id)
    assert (c.source, c.state, c.grid_id, c.category_code) == ("resident", "reported", world["grid_ids"][0], "0101")
    assert c.attributes["category_unconfirmed"] and c.reporter_phone == "13912345678"
    assert (t.grid_id, t.community_id, t.resident_category) == (world["grid_ids"][0], world["community_ids"][0],
                                                                "garbage")
    with services.db.read() as s:
        assert s.scalar(select(Case.id).where(Case.source == "resident").order_by(Case.id.desc())) == c.id
        assert len(s.scalars(select(Case).where(Case.source == "resident")).all()) == 1  # the retry made none
        evs = [e for e in events_after(s, seq0) if e.type == "case"]
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "resident_report")).all()
    assert [(a.target, a.actor, a.ip) for a in audit] == [(f"case:{c.code}", "anonymous", "10.0.0.1")] * 2  # + retry
    assert "13912345678" not in json.dumps(audit[0].detail or {})
    assert evs and evs[0].payload["action"] == "created" and evs[0].payload["case"]["source"] == "resident"
    assert evs[0].payload["case"]["reporter_phone"] == "139****5678"

    view = client.get(f"/api/v1/r/tickets/{out['token']}").get_json()
    assert (view["step"], view["can_rate"], view["reply"]) == ("received", False, None)
    r = client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction", json={"value": "satisfied"})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "value"  # not closed yet

    # the center dispatches 25 minutes later: the first response is timed
    act(client, clock, ids, c.id, "dispatch", sh(2026, 12, 7, 9, 25), worker_id=ids["w1"])
    assert ticket_of(services, out["token"]).first_response_at == sh(2026, 12, 7, 9, 25)
    assert client.get(f"/api/v1/r/tickets/{out['token']}").get_json()["step"] == "dispatched"
    clock.t = sh(2026, 12, 7, 9, 40)
    assert client.post(f"/api/v1/me/tasks/{c.id}/acknowledge", json={}, headers=ids["worker"]).status_code == 200
    assert client.get(f"/api/v1/r/tickets/{out['token']}").get_json()["step"] == "handling"
    up = client.post("/api/v1/photos", data={"photo": (io.BytesIO(jpeg_bytes(color=(20, 160, 20))), "after.jpg")},
                     content_type="multipart/form-data", headers=ids["worker"])
    r = client.post(f"/api/v1/me/tasks/{c.id}/finish", json={"note": "已清运，张三 13812345678", "photos":
                                                             [up.get_json()["token"]]}, headers=ids["worker"])
    assert r.status_code == 200, r.get_json()
    act(client, clock, ids, c.id, "approve", sh(2026, 12, 7, 10, 30), note="垃圾已清运完毕，感谢反映")
    # a later dispatch does not move the first response
    assert ticket_of(services, out["token"]).first_response_at == sh(2026, 12, 7, 9, 25)

    view = client.get(f"/api/v1/r/tickets/{out['token']}").get_json()
    assert (view["step"], view["can_rate"], view["reply"]) == ("closed", True, "垃圾已清运完毕，感谢反映")
    assert view["steps"]["closed"].startswith("2026-12-07T10:30") and len(view["after_photos"]) == 1
    photo = client.get(view["after_photos"][0])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    # the before-photo is not an after-photo, and another link's holder gets nothing
    with services.db.read() as s:
        before = [p.id for p in s.get(Case, c.id).photos if p.stage == "before"][0]
    assert client.get(f"/api/v1/r/tickets/{out['token']}/photos/{before}").status_code == 404
    other = post_report(client, ids, key="key-other1", description="路灯不亮", category="facility")
    assert client.get(f"/api/v1/r/tickets/{other['token']}/photos/{view['after_photos'][0].rsplit('/', 1)[1]}") \
        .status_code == 404
    # the reply's own people are masked (the worker's note is not the reply once a closing note exists)
    assert "13812345678" not in json.dumps(view, ensure_ascii=False)

    # 不满意 needs a comment; with one it reopens the case into the check queue as rework
    r = client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction", json={"value": "unsatisfied"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "comment"
    clock.t = sh(2026, 12, 7, 11, 0)
    r = client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction",
                    json={"value": "unsatisfied", "comment": "垃圾桶旁边还有一堆"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["reopened"] and not r.get_json()["can_rate"] and r.get_json()["step"] == "handling"
    c = case_of(services, c.id)
    assert (c.state, c.rework_count, c.closed_at) == ("feedback", 1, None)
    t = ticket_of(services, out["token"])
    assert (t.satisfaction, t.reworked, t.satisfaction_comment) == ("unsatisfied", True, "垃圾桶旁边还有一堆")
    detail = client.get(f"/api/v1/cases/{c.id}", headers=ids["dispatcher"]).get_json()
    assert [e["action"] for e in detail["timeline"]][-2:] == ["resident_rating", "resident_reopen"]
    assert "approve" in client.get(f"/api/v1/cases/{c.id}/view", headers=ids["dispatcher"]).get_json()["actions"]
    r = client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction", json={"value": "basic"})
    assert r.status_code == 409  # once per closure

    # the center checks again and closes; a second 不满意 is recorded but reopens nothing
    act(client, clock, ids, c.id, "approve", sh(2026, 12, 7, 14, 0), note="已全部清理")
    clock.t = sh(2026, 12, 7, 15, 0)
    r = client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction", json={"value": "unsatisfied", "comment": "还是不干净"})
    assert r.status_code == 200 and r.get_json()["satisfaction"] == "unsatisfied"
    c = case_of(services, c.id)
    assert (c.state, c.rework_count) == ("closed", 1)
    assert client.post(f"/api/v1/r/tickets/{out['token']}/satisfaction",
                       json={"value": "satisfied"}).status_code == 409


def test_forged_links_and_hostile_input_are_4xx_naming_the_field(rworld):
    client, services, clock, ids, world = rworld
    code, check = ids["g"].split(".")
    for bad in ("G00", f"G01.{check}", f"{code}.{'0' * 10}", "x" * 5000, None, 7):
        r = post_report(client, ids, g=bad, status=422, key=None)
        assert r["error"]["field"] == "g"
    # another grid's genuine link works and files the report against that grid's QR code
    other = post_report(client, ids, g=ids["g11"], key="key-grid11")
    with services.db.read() as s:
        assert s.scalar(select(ResidentTicket.grid_id).where(ResidentTicket.token == other["token"])) \
            == world["grid_ids"][4]
    assert client.get("/api/v1/r/tickets/" + "A" * 43).status_code == 404
    assert client.get("/api/v1/r/tickets/" + "%00' or 1=1--").status_code == 404
    assert client.get("/api/v1/r/tickets/" + "x" * 5000).status_code in (404, 414)
    assert client.get("/api/v1/r/grids/G00/call").status_code == 404
    assert client.get(f"/api/v1/r/grids/{ids['g']}/call").status_code in (200, 404)  # see the call-button test
    for fields, field in [({"category": "bribery"}, "category"), ({"lat": "34.1"}, "lat"), ({"lon": None}, "lon"),
                          ({"lat": True}, "lat"), ({"lat": 91}, "lat"), ({"description": "x" * 1001}, "description"),
                          ({"description": ["a"]}, "description"), ({"description": "a\x00b"}, "description"),
                          ({"phone": "call me"}, "phone"),
                          ({"phone": 13812345678}, "phone"), ({"description": ""}, "description")]:
        r = post_report(client, ids, status=422, key=None, **fields)
        assert r["error"]["field"] == field, (fields, r)
    r = post_report(client, ids, status=422, key=None, photos=[jpeg_bytes()] * 4)
    assert r["error"]["field"] == "photo"
    r = post_report(client, ids, status=415, key=None, photos=[jpeg_bytes(), b"<?php echo 1; ?>" * 10])
    assert r["error"]["field"] == "photo" and r["error"]["index"] == 1
    r = client.post("/api/v1/r/reports", data={"report": "{not json"}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "report"
    r = client.post("/api/v1/r/reports", data={"report": "[1, 2]"}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "report"
    r = client.post("/api/v1/r/reports", data={"report": json.dumps({"description": "x" * 20000})},
                    content_type="multipart/form-data")
    assert r.status_code == 413 and r.get_json()["error"]["field"] == "report"
    r = client.post("/api/v1/r/reports", data=b"x" * (17 * 1024 * 1024), content_type="application/octet-stream")
    assert r.status_code == 413
    r = client.post("/api/v1/r/reports", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "report"
    r = post_report(client, ids, status=422, key="short")
    assert r["error"]["field"] == "Idempotency-Key"
    # a foreign page cannot post for a visitor (the origin check of every anonymous POST)
    r = client.post("/api/v1/r/reports", json={}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    # the verdict: bad values name their field
    tok = other["token"]
    for body, field, status in [({"value": "great"}, "value", 422), ({}, "value", 422), ({"value": 1}, "value", 422),
                                ({"value": "basic", "comment": ["x"]}, "comment", 422),
                                ({"value": "basic", "comment": "a\x00"}, "comment", 422)]:
        r = client.post(f"/api/v1/r/tickets/{tok}/satisfaction", json=body)
        assert r.status_code == status and r.get_json()["error"]["field"] == field, (body, r.get_json())
    assert client.post("/api/v1/r/tickets/nope/satisfaction", json={"value": "basic"}).status_code == 404
    with services.db.read() as s:
        assert len(s.scalars(select(Case).where(Case.source == "resident")).all()) == 1  # nothing else written


def test_abuse_limits_the_challenge_and_phone_budget(rworld):
    client, services, clock, ids, world = rworld
    after = services.settings.resident_challenge_after
    for i in range(after):  # the first reports of the hour go straight in
        post_report(client, ids, key=f"burst-{i:04d}", addr="10.9.9.9")
    r = post_report(client, ids, key="burst-next", addr="10.9.9.9", status=429)
    err = r["error"]
    assert err["field"] == "challenge_answer" and err["challenge"]["question"]
    a, b = (int(x) for x in err["challenge"]["question"].split(" + "))
    # a wrong answer is a 400 with a new sum; a sum made for another report's key does not pass
    r = post_report(client, ids, key="burst-next", addr="10.9.9.9", status=400, challenge=err["challenge"]["token"],
                    challenge_answer=str(a + b + 1))
    assert r["error"]["field"] == "challenge_answer" and r["error"]["challenge"]["token"]
    post_report(client, ids, key="burst-othr", addr="10.9.9.9", status=400, challenge=err["challenge"]["token"],
                challenge_answer=str(a + b))
    # the right answer, for this report's key, lets it in
    post_report(client, ids, key="burst-next", addr="10.9.9.9", status=201, challenge=err["challenge"]["token"],
                challenge_answer=str(a + b))
    # another address is not asked
    post_report(client, ids, key="calm-0001", addr="10.1.1.1")
    # the phone budget: 5 an hour per number, from any address
    limit = int(services.settings.rate_resident_phone.split("/")[0])
    for i in range(limit):
        post_report(client, ids, key=f"phone-{i:04d}", addr=f"10.2.0.{i}", phone="13700000000")
    r = client.post("/api/v1/r/reports", data={"report": json.dumps({
        "g": ids["g"], "category": "noise", "description": "夜间施工", "lat": ids["lat"], "lon": ids["lon"],
        "phone": "137-0000-0000"})}, content_type="multipart/form-data", headers={"Idempotency-Key": "phone-over"},
        environ_base={"REMOTE_ADDR": "10.3.0.1"})
    assert r.status_code == 429 and r.get_json()["error"]["field"] == "phone" and int(r.headers["Retry-After"]) >= 1


def test_the_address_budget_is_429(district):
    app, services, world = district
    limits = app.extensions["gc_resident_limits"]
    from dashboard.ratelimit import parse_limit

    limits.items["RESIDENT"] = parse_limit("2/3600")
    client = app.test_client()
    for _ in range(2):
        client.post("/api/v1/r/reports", json={}, environ_base={"REMOTE_ADDR": "10.7.7.7"})
    r = client.post("/api/v1/r/reports", json={}, environ_base={"REMOTE_ADDR": "10.7.7.7"})
    assert r.status_code == 429 and r.get_json()["error"]["field"] == "report" and r.headers["Retry-After"]
    assert client.post("/api/v1/r/reports", json={}, environ_base={"REMOTE_ADDR": "10.7.7.8"}).status_code == 422


def test_a_report_merged_into_the_case_that_handles_it_is_followed_there(rworld):
    client, services, clock, ids, world = rworld
    first = post_report(client, ids, key="merge-first", description="路灯不亮", category="facility")
    dup = post_report(client, ids, key="merge-dupl", description="路灯又不亮了", category="facility")
    a, b = ticket_of(services, first["token"]).case_id, ticket_of(services, dup["token"]).case_id
    act(client, clock, ids, a, "dispatch", sh(2026, 12, 7, 9, 10), worker_id=ids["w1"])
    clock.t = sh(2026, 12, 7, 9, 20)
    r = client.post(f"/api/v1/cases/{b}/merge", json={"into": a, "note": "同一盏路灯"}, headers=ids["dispatcher"])
    assert r.status_code == 200, r.get_json()
    assert ticket_of(services, dup["token"]).first_response_at == sh(2026, 12, 7, 9, 20)  # the merge answered it
    view = client.get(f"/api/v1/r/tickets/{dup['token']}").get_json()
    assert view["step"] == "dispatched" and view["steps"]["dispatched"].startswith("2026-12-07T09:10")


def test_call_button_dials_the_service_number_never_the_workers_own_phone(rworld):
    """The poster's call button hands out the grid worker's public service number, else the center's duty number;
    the worker's personal phone (Worker.phone, masked everywhere) never leaves the server, whole or masked."""
    client, services, clock, ids, world = rworld
    url = f"/api/v1/r/grids/{ids['g']}/call"
    with services.db.write() as s:
        w = s.get(Worker, ids["w1"])
        personal = w.phone
        w.service_phone = None
    assert personal and len(personal) >= 7
    base = services.settings
    try:
        # no service number, no center number (and not a demo): nothing to dial
        services.settings = base.model_copy(update={"center_phone": "", "demo": False})
        r = client.get(url)
        assert r.status_code == 404 and r.get_json()["error"]["field"] == "g"
        assert personal not in r.get_data(as_text=True)
        # the center's duty number is the fallback
        services.settings = base.model_copy(update={"center_phone": "029-8765 4321", "demo": False})
        assert client.get(url).get_json() == {"tel": "02987654321", "of": "center"}
        # the worker's public service number when she has one
        with services.db.write() as s:
            s.get(Worker, ids["w1"]).service_phone = "+86 29-1234 5678"
        r = client.get(url)
        assert r.get_json() == {"tel": "+862912345678", "of": "worker"}
        assert personal not in r.get_data(as_text=True)
        # the page carries the service number masked, never the personal one in any form
        with services.db.read() as s:
            page = svc.grid_page(s, "G00", "zh-CN")
        assert page is not None and page.worker_phone and page.worker_phone != svc.mask_phone(personal)
    finally:
        services.settings = base
