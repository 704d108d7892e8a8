"""Jurisdiction of every write: community A's operator changes nothing of community B's (issue #8).

Each test makes one write that names a record of B in its body (a worker to dispatch or act for, a case to
merge into, a grid, a point, a referenced alert, a record to unmask) as ``dispatcher_a`` — the key bound to
community A — and checks that it is refused with the field named and that the database is exactly as before
(every table read back, except the API keys' last use and the audit log, which record the attempt). Then the
street's dispatcher makes the same write and it succeeds, so the refusal is the jurisdiction, not the input.

A record of B named in the body is answered as an unknown one (the endpoint's own status and message for an
unknown id), so A learns nothing of it — as a path id of B's is a 404 (auth.guard_jurisdiction). Grids and
points are no secret (the tours' stops precedent): those are a 403 naming the field.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.db import Base
from dashboard.models import Alert, Case, Grid, Place, Worker
from dashboard.models.governance import LegalStaff
from dashboard.timeutil import utcnow
from tests.security.test_access_matrix import socket_client

SKIP_TABLES = {"api_key", "audit_log"}  # written by every authenticated request / by design for the attempt
NS = "urn:oasis:names:tc:emergency:cap:1.2"
# CAP areas (lat,lon first): a circle inside grid G00 (A), one inside G11 (B), a box over G00 and G01 (A and B)
AREA_A = "<area><areaDesc>一社区</areaDesc><circle>34.261,108.951 0.05</circle></area>"
AREA_B = "<area><areaDesc>二社区</areaDesc><circle>34.263,108.953 0.05</circle></area>"
AREA_AB = ("<area><areaDesc>边界</areaDesc><polygon>34.2605,108.9505 34.2605,108.9525 34.2615,108.9525 "
           "34.2615,108.9505 34.2605,108.9505</polygon></area>")


def db_state(world) -> dict[str, list[str]]:
    """Every row of every table (but SKIP_TABLES), comparable before and after a request."""
    with world.services.db.read() as s:
        return {t.name: sorted(repr(tuple(r)) for r in s.execute(select(t)))
                for t in Base.metadata.sorted_tables if t.name not in SKIP_TABLES}


def refused(r, status: int, field: str) -> None:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.get_json()["error"]["field"] == field, r.get_json()


def changed_nothing(world, before: dict) -> None:
    after = db_state(world)
    diff = {t: (set(after[t]) ^ set(before[t])) for t in before if after[t] != before[t]}
    assert not diff, f"a refused write changed {diff}"


def center(world, tag: str) -> tuple[float, float]:
    with world.services.db.read() as s:
        g = s.get(Grid, world.ids[f"grid_{tag}"])
        return g.centroid_lat, g.centroid_lon


def new_case(world, tag: str, category: str = "0401") -> int:
    """A fresh reported case at the centre of A's or B's grid (so each test starts from its own record)."""
    from dashboard.services.cases import CaseReport, report_case

    lat, lon = center(world, tag)
    with world.services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code=category, description=f"测试{tag}", lat=lat, lon=lon,
                                         source="hotline"), locator=world.services.locator)
        s.flush()
        return c.id


def new_alert(world, tag: str) -> int:
    from dashboard.services.alerts import raise_alert

    lat, lon = center(world, tag)
    with world.services.db.write() as s:
        g = s.get(Grid, world.ids[f"grid_{tag}"])
        a, _ = raise_alert(s, source="rule", kind="probe", title=f"派遣测试{tag}", lat=lat, lon=lon, grid_id=g.id,
                           community_id=g.community_id, dedupe_key=f"write-test-{tag}-{utcnow().timestamp()}")
        s.flush()
        return a.id


def key_of(world, role: str, community: str | None) -> str:
    """A new API key of ``role`` bound to community ``community`` ("a"/"b") or the street (None)."""
    from dashboard.services.apikeys import create_api_key

    comm = world.ids[f"community_{community}"] if community else None
    with world.services.db.write() as s:
        _, key = create_api_key(s, name=f"test-{role}-{community or 'street'}", role=role, community_id=comm)
    return key


def client_with(world, key: str):
    c = world.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    return c


def cap(ident: str, area: str = "", msg_type: str = "Alert", refs: str = "",
        sender: str = "write-test@example.cn") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{NS}"><identifier>{ident}</identifier><sender>{sender}</sender>
  <sent>2026-11-28T09:30:00+08:00</sent><status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>
  {f"<references>{refs}</references>" if refs else ""}
  <info><category>Met</category><event>大风</event><urgency>Expected</urgency><severity>Severe</severity>
    <certainty>Likely</certainty><expires>2099-01-01T00:00:00+08:00</expires><headline>大风预警</headline>
    {area}</info></alert>""".encode()


def post_cap(client, xml: bytes):
    return client.post("/api/v1/alerts/cap", data=xml, content_type="application/cap+xml")


# -- dispatching another community's worker ---------------------------------------------------------------

def test_case_dispatch_of_another_communitys_worker(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    cid, wb = new_case(world, "a"), world.ids["worker_b"]
    before = db_state(world)
    for action in ("dispatch", "register"):  # any action that takes a worker_id
        r = a.post(f"/api/v1/cases/{cid}/actions/{action}", json={"worker_id": wb, "note": "越界派遣"})
        refused(r, 400, "worker_id")
        assert r.get_json()["error"]["message"] == f"unknown worker {wb}"  # as for a worker that does not exist
    changed_nothing(world, before)
    own = a.post(f"/api/v1/cases/{cid}/actions/dispatch", json={"worker_id": world.ids["worker_a"]})
    assert own.status_code == 200 and own.get_json()["assigned_worker_id"] == world.ids["worker_a"]
    r = a.post(f"/api/v1/cases/{cid}/actions/redispatch", json={"worker_id": wb})
    refused(r, 400, "worker_id")
    r = street.post(f"/api/v1/cases/{cid}/actions/redispatch", json={"worker_id": wb})
    assert r.status_code == 200 and r.get_json()["assigned_worker_id"] == wb, r.get_json()


def test_alert_dispatch_of_another_communitys_worker(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    aid, wb = new_alert(world, "a"), world.ids["worker_b"]
    before = db_state(world)
    r = a.post(f"/api/v1/alerts/{aid}/dispatch", json={"worker_id": wb, "category_code": "0401"})
    refused(r, 400, "worker_id")
    assert r.get_json()["error"]["message"] == f"unknown worker {wb}"
    changed_nothing(world, before)
    with world.services.db.read() as s:
        assert s.get(Alert, aid).state == "new" and s.get(Alert, aid).case_id is None
    r = street.post(f"/api/v1/alerts/{aid}/dispatch", json={"worker_id": wb, "category_code": "0401"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["case"]["assigned_worker_id"] == wb and r.get_json()["alert"]["state"] == "acknowledged"


# -- acting for another community's worker: positions and patrols -----------------------------------------

def test_positions_for_another_communitys_worker(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    lat, lon = center(world, "b")
    fix = {"t": (utcnow() + timedelta(minutes=5)).isoformat(), "lat": lat, "lon": lon}
    with world.services.db.read() as s:
        device_b = s.get(Worker, world.ids["worker_b"]).device_id
    before = db_state(world)
    refused(a.post("/api/v1/positions", json={"worker_id": world.ids["worker_b"], "fixes": [fix]}), 422, "worker_id")
    refused(a.post("/api/v1/positions", json={"device_id": device_b, "fixes": [fix]}), 404, "device_id")
    changed_nothing(world, before)
    r = street.post("/api/v1/positions", json={"device_id": device_b, "fixes": [fix]})
    assert r.status_code == 200 and r.get_json()["accepted"] == 1, r.get_json()


def test_patrols_for_another_communitys_worker(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    wb = world.ids["worker_b"]
    assert street.post("/api/v1/patrols/start", json={"worker_id": wb}).status_code == 200
    before = db_state(world)
    for word in ("stop", "start"):
        refused(a.post(f"/api/v1/patrols/{word}", json={"worker_id": wb}), 422, "worker_id")
    changed_nothing(world, before)
    with world.services.db.read() as s:
        assert s.get(Worker, wb).duty_state == "patrolling"
    r = street.post("/api/v1/patrols/stop", json={"worker_id": wb})
    assert r.status_code == 200 and r.get_json()["state"] != "patrolling", r.get_json()
    assert a.post("/api/v1/patrols/start", json={"worker_id": world.ids["worker_a"]}).status_code == 200


# -- reports: a community operator reports in its own community --------------------------------------------

def test_case_report_at_a_point_of_another_community(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    lat, lon = center(world, "b")
    body = {"category_code": "0101", "description": "越界上报", "lat": lat, "lon": lon}
    before = db_state(world)
    r = a.post("/api/v1/cases", json=body)
    refused(r, 403, "lat")
    r = a.post("/api/v1/cases", json={**body, "lat": None, "lon": None, "worker_id": world.ids["worker_b"]})
    refused(r, 422, "worker_id")  # reporting for B's worker (whose grid the case would take)
    changed_nothing(world, before)
    r = street.post("/api/v1/cases", json=body)
    assert r.status_code == 201 and r.get_json()["grid_id"] == world.ids["grid_b"], r.get_json()
    # the worker key (not bound to a community) reports where its worker stands; A reports in A
    assert world.client("worker").post("/api/v1/cases", json=body).status_code == 201
    lat_a, lon_a = center(world, "a")
    r = a.post("/api/v1/cases", json={**body, "lat": lat_a, "lon": lon_a})
    assert r.status_code == 201 and r.get_json()["grid_id"] == world.ids["grid_a"]


def test_case_report_by_a_community_bound_worker_key(world):
    from dashboard.services.apikeys import create_api_key

    with world.services.db.write() as s:
        _, key = create_api_key(s, name="test-worker-a-bound", role="worker", community_id=world.ids["community_a"],
                                worker_id=world.ids["worker_a"])
    lat, lon = center(world, "b")
    before = db_state(world)
    refused(client_with(world, key).post("/api/v1/cases", json={"category_code": "0101", "lat": lat, "lon": lon}),
            403, "lat")
    changed_nothing(world, before)


# -- merging into another community's case ------------------------------------------------------------------

def test_merge_into_another_communitys_case(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    dup, into = new_case(world, "a"), new_case(world, "b")
    before = db_state(world)
    r = a.post(f"/api/v1/cases/{dup}/merge", json={"into": into, "note": "越界合并"})
    refused(r, 400, "into")
    assert r.get_json()["error"]["message"] == f"no case {into}"  # as for a case that does not exist
    changed_nothing(world, before)
    r = street.post(f"/api/v1/cases/{dup}/merge", json={"into": into})
    assert r.status_code == 200 and r.get_json()["id"] == into
    with world.services.db.read() as s:
        assert s.get(Case, dup).merged_into_id == into


# -- governance activities: grids, places and cases of another community -----------------------------------

def test_governance_activity_in_another_communitys_grid(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    with world.services.db.read() as s:
        grid_b_code = s.get(Grid, world.ids["grid_b"]).code
        grid_a_code = s.get(Grid, world.ids["grid_a"]).code
        case_b_code = s.get(Case, world.ids["case_b"]).code
    act = {"kind": "mediation", "title": "越界调解", "started_at": "2026-11-28 09:00", "participants": 2}
    with world.services.db.write() as s:
        s.add_all([Place(code="PL-B", kind="compound", name="二社区小区", grid_id=world.ids["grid_b"]),
                   LegalStaff(code="LS-B", role="lawyer", name_masked="赵*", grid_id=world.ids["grid_b"])])
    before = db_state(world)
    refused(a.post("/api/v1/governance/activities", json={**act, "grid_id": world.ids["grid_b"]}), 403, "grid_id")
    refused(a.post("/api/v1/governance/activities", json={**act, "grid_code": grid_b_code}), 403, "grid_code")
    r = a.post("/api/v1/governance/activities", json={**act, "grid_code": grid_a_code, "case_code": case_b_code})
    refused(r, 400, "case_code")  # B's case, linked to A's activity, reads as an unknown code
    for field, code in (("place_code", "PL-B"), ("legal_staff_code", "LS-B")):  # so do B's place and staff
        refused(a.post("/api/v1/governance/activities", json={**act, "grid_code": grid_a_code, field: code}),
                400, field)
    csv = f"kind,title,grid_code,started_at\nmediation,一社区调解,{grid_a_code},2026-11-28 09:00\n" \
          f"mediation,越界调解,{grid_b_code},2026-11-28 10:00\n"
    r = a.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(csv.encode()), "a.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 403, r.get_json()
    assert [(e["line"], e["field"]) for e in r.get_json()["errors"]] == [(3, "grid_code")]
    changed_nothing(world, before)
    for body in ({**act, "grid_id": world.ids["grid_b"]}, {**act, "grid_code": grid_a_code, "case_code": case_b_code},
                 {**act, "grid_code": grid_a_code, "place_code": "PL-B", "legal_staff_code": "LS-B"}):
        r = street.post("/api/v1/governance/activities", json=body)
        assert r.status_code == 201, r.get_json()
    r = street.post("/api/v1/governance/activities/import", data={"file": (io.BytesIO(csv.encode()), "a.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["created"] == 2
    r = a.post("/api/v1/governance/activities", json={**act, "grid_code": grid_a_code})
    assert r.status_code == 201 and r.get_json()["community_id"] == world.ids["community_a"]


# -- CAP alerts: the area and the alerts a message updates or cancels --------------------------------------

A_FEED = "a-feed@example.cn"  # community A's own sender: a sender belongs to the caller that first used it


def test_cap_alert_reaching_another_community(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    before = db_state(world)
    refused(post_cap(a, cap("WB1", AREA_B, sender=A_FEED)), 403, "area")
    refused(post_cap(a, cap("WAB1", AREA_AB, sender=A_FEED)), 403, "area")  # a street-wide alert over A and B
    changed_nothing(world, before)
    b = post_cap(street, cap("WB1", AREA_B))
    assert b.status_code == 201 and b.get_json()["alert"]["community_id"] == world.ids["community_b"]
    before = db_state(world)
    # a repeat of B's message does not hand A its alert: the sender is the street dispatcher's (issue 25 item 4)
    refused(post_cap(a, cap("WB1", AREA_B)), 403, "sender")
    ref = "write-test@example.cn,WB1,2026-11-28T09:30:00+08:00"
    refused(post_cap(a, cap("WB2", AREA_A, msg_type="Cancel", refs=ref, sender=A_FEED)), 403, "references")
    changed_nothing(world, before)
    with world.services.db.read() as s:
        assert s.get(Alert, b.get_json()["alert"]["id"]).state == "new"
    own = post_cap(a, cap("WA1", AREA_A, sender=A_FEED))
    assert own.status_code == 201 and own.get_json()["alert"]["community_id"] == world.ids["community_a"]
    assert post_cap(street, cap("WB3", AREA_A, msg_type="Cancel", refs=ref)).status_code == 201
    with world.services.db.read() as s:
        assert s.get(Alert, b.get_json()["alert"]["id"]).state == "resolved"


# -- a community's integration creating a worker in another community's grid -------------------------------

def test_worker_created_in_another_communitys_grid(world):
    a, street = client_with(world, key_of(world, "integration", "a")), world.client("integration")
    with world.services.db.read() as s:
        grid_b_code = s.get(Grid, world.ids["grid_b"]).code
    body = {"code": "WX1", "name": "王越界", "grid_code": grid_b_code}
    before = db_state(world)
    refused(a.post("/api/v1/workers", json=body), 403, "grid_code")
    changed_nothing(world, before)
    r = street.post("/api/v1/workers", json=body)
    assert r.status_code == 201, r.get_json()


# -- unmasking another community's record ------------------------------------------------------------------

@pytest.mark.parametrize("kind,key,field", [("case", "case_b", "reporter_phone"), ("worker", "worker_b", "phone")])
def test_unmask_another_communitys_record(world, kind, key, field):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    body = {"kind": kind, "id": world.ids[key], "field": field, "reason": "越界查看"}
    before = db_state(world)
    r = a.post("/api/v1/unmask", json=body)
    assert r.status_code == 404 and "value" not in r.get_json()
    changed_nothing(world, before)
    r = street.post("/api/v1/unmask", json=body)
    assert r.status_code == 200 and r.get_json()["value"]


# -- Socket.IO: a video call about another community's case or alert ----------------------------------------

@pytest.mark.parametrize("about", ["case", "alert"])
def test_call_about_another_communitys_case_or_alert(world, about):
    """The call's end is written into the case's timeline: A may call its worker only about its own records."""
    a, street = socket_client(world, "dispatcher_a"), socket_client(world, "dispatcher")
    payload = {"worker_id": world.ids["worker_a"], f"{about}_id": world.ids[f"{about}_b"]}
    before = db_state(world)
    ack = a.emit("call_invite", dict(payload), callback=True)
    # the same answer as for a record that does not exist (its stable code lets the page say it in its language)
    assert ack == {"ok": False, "code": "unknown", "error": f"unknown {about} {world.ids[f'{about}_b']}"}, ack
    changed_nothing(world, before)
    ack = street.emit("call_invite", dict(payload), callback=True)
    assert ack["ok"], ack
    street.emit("call_hangup", {"call_id": ack["call"]["id"]}, callback=True)
    own = a.emit("call_invite", {"worker_id": world.ids["worker_a"], f"{about}_id": world.ids[f"{about}_a"]},
                 callback=True)
    assert own["ok"], own
    a.emit("call_hangup", {"call_id": own["call"]["id"]}, callback=True)
    a.disconnect()
    street.disconnect()


def test_community_bound_admin_joins_only_its_workers_room(world):
    c = world.services.socketio.test_client(world.app, headers={"X-API-Key": key_of(world, "admin", "a")})
    assert not c.emit("join_worker", {"worker_id": world.ids["worker_b"]}, callback=True)["ok"]
    assert c.emit("join_worker", {"worker_id": world.ids["worker_a"]}, callback=True)["ok"]
    c.disconnect()
