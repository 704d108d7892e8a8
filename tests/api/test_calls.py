"""Video-call signalling over Socket.IO (Flask-SocketIO test clients): who may join, ring, answer, relay, and
what is recorded on the case."""
from __future__ import annotations

import pytest

from dashboard.models import Role
from dashboard.services.cases import CaseReport, report_case
from tests.api.conftest import make_key

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def calls_world(district):
    app, services, w = district
    lat, lon = w["centers"][0]
    with services.db.write() as s:
        case, _ = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon), locator=services.locator)
        case_id = case.id
    return app, services, w, case_id


def sock(app, services, key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return services.socketio.test_client(app, headers=headers)


def received(client, type_: str) -> list[dict]:
    return [a[0] for m in client.get_received() if m["name"] == "call" for a in [m["args"]] if a[0]["type"] == type_]


def test_join_worker_needs_the_worker_itself_or_the_demo_operator(calls_world):
    app, services, w, _ = calls_world
    w1, w2 = w["worker_ids"]
    own = sock(app, services, make_key(services, Role.WORKER, worker_id=w1))
    assert own.emit("join_worker", {"worker_id": w1}, callback=True)["ok"] is True
    other = own.emit("join_worker", {"worker_id": w2}, callback=True)
    assert other["ok"] is False and "not allowed" in other["error"]
    leader = sock(app, services, make_key(services, Role.LEADER))
    assert leader.emit("join_worker", {"worker_id": w1}, callback=True)["ok"] is False
    assert own.emit("join_worker", {"worker_id": "x"}, callback=True)["ok"] is False
    dispatcher = sock(app, services, make_key(services, Role.DISPATCHER))
    assert dispatcher.emit("join_worker", {"worker_id": w2}, callback=True)["ok"] is False  # only the demo door


def test_ring_answer_relay_hangup_and_the_record_on_the_case(calls_world):
    app, services, w, case_id = calls_world
    w1 = w["worker_ids"][0]
    phone = sock(app, services, make_key(services, Role.WORKER, worker_id=w1))
    phone.emit("join_worker", {"worker_id": w1}, callback=True)
    bystander = sock(app, services, make_key(services, Role.WORKER, worker_id=w["worker_ids"][1]))
    worker_key_console = sock(app, services, make_key(services, Role.WORKER, worker_id=w1))
    assert worker_key_console.emit("call_invite", {"worker_id": w1}, callback=True)["ok"] is False  # not a dispatcher
    console = sock(app, services, make_key(services, Role.DISPATCHER))
    res = console.emit("call_invite", {"worker_id": w1, "case_id": case_id}, callback=True)
    assert res["ok"] and res["ice_servers"] == [] and res["call"]["state"] == "ringing"
    call_id = res["call"]["id"]
    (ring,) = received(phone, "ring")
    assert ring["call"]["id"] == call_id and ring["call"]["worker_name"] == "张*"
    assert received(bystander, "ring") == []
    # a stranger cannot answer or inject signalling
    assert bystander.emit("call_answer", {"call_id": call_id}, callback=True)["ok"] is False
    assert phone.emit("call_answer", {"call_id": call_id}, callback=True)["ok"] is True
    assert received(console, "answered")[0]["call_id"] == call_id
    assert console.emit("call_signal", {"call_id": call_id, "kind": "offer", "data": {"type": "offer", "sdp": "v=0"}},
                        callback=True)["ok"]
    (offer,) = received(phone, "signal")
    assert offer["kind"] == "offer" and offer["data"]["sdp"] == "v=0"
    assert phone.emit("call_signal", {"call_id": call_id, "kind": "ice", "data": {"candidate": "c"}}, callback=True)["ok"]
    assert received(console, "signal")[0]["data"] == {"candidate": "c"}
    assert bystander.emit("call_signal", {"call_id": call_id, "kind": "ice", "data": {}}, callback=True)["ok"] is False
    assert console.emit("call_signal", {"call_id": call_id, "kind": "bogus"}, callback=True)["ok"] is False
    assert console.emit("call_hangup", {"call_id": call_id}, callback=True)["call"]["state"] == "ended"
    assert received(phone, "hangup")[0]["state"] == "ended"
    assert console.emit("call_hangup", {"call_id": call_id}, callback=True)["ok"] is False  # already over

    # a second call, declined by the worker
    call2 = console.emit("call_invite", {"worker_id": w1, "case_id": case_id}, callback=True)["call"]["id"]
    assert console.emit("call_decline", {"call_id": call2}, callback=True)["ok"] is False  # only the worker declines
    assert phone.emit("call_decline", {"call_id": call2}, callback=True)["call"]["state"] == "declined"
    assert received(console, "declined")[0]["call_id"] == call2

    c = app.test_client()
    calls = c.get(f"/api/v1/calls?case_id={case_id}").get_json()["calls"]
    assert [(x["state"], x["ended_by"]) for x in calls] == [("declined", "worker"), ("ended", "operator")]
    timeline = c.get(f"/api/v1/cases/{case_id}").get_json()["timeline"]
    notes = [e["note"] for e in timeline if e["action"] == "video_call"]
    assert len(notes) == 2 and "拒绝" in notes[1] and "张*" in notes[0] and "张三" not in "".join(notes)


def test_ice_servers_come_from_settings(calls_world):
    from dashboard.services.calls import ice_servers

    _, services, _, _ = calls_world
    assert ice_servers(services.settings) == []
    s = services.settings.with_(extra={"GC_ICE_SERVERS": "stun:10.0.0.1:3478, turn:10.0.0.1:3478"})
    assert ice_servers(s) == [{"urls": "stun:10.0.0.1:3478"}, {"urls": "turn:10.0.0.1:3478"}]
    s = services.settings.with_(extra={"GC_ICE_SERVERS": '[{"urls": "turn:t.lan", "username": "u", "credential": "p"}]'})
    assert ice_servers(s)[0]["username"] == "u"
