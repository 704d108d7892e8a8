"""Issue 25 item 4: CAP across jurisdictions.

A CAP ``sender`` belongs to the API key that first used it; only that sender updates or cancels its alerts
through ``references``; an area-less alert of a community-bound key is that community's; a community dispatcher
may not resolve or acknowledge a street-wide alert; a cancel is on the audit log.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.models import Alert, AuditLog
from dashboard.services.apikeys import create_api_key
from dashboard.timeutil import SHANGHAI
from tests.api.test_cap import cap
from tests.security.conftest import build_world

SENT = "2026-11-28T09:30:00+08:00"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("cap2"), with_pages=False)
    w.services.clock = lambda: datetime(2026, 11, 28, 9, 35, tzinfo=SHANGHAI)  # the messages' expiry is ahead
    with w.services.db.write() as s:
        for name, comm in (("feed-x", None), ("feed-y", None), ("feed-a", w.ids["community_a"])):
            _, w.keys[name] = create_api_key(s, name=name, role="integration", community_id=comm)
    yield w
    w.services.shutdown()


def post(world, key_name: str, xml: str):
    c = world.client(key_name)
    return c.post("/api/v1/alerts/cap", data=xml.encode(), content_type="application/cap+xml")


def as_sender(xml: str, sender: str) -> str:
    return xml.replace("<sender>xa-met@example.cn</sender>", f"<sender>{sender}</sender>")


def alert_count(world) -> int:
    with world.services.db.read() as s:
        return s.scalar(select(func.count()).select_from(Alert))


def test_a_sender_belongs_to_the_key_that_first_used_it(world):
    assert post(world, "feed-x", as_sender(cap("S-1"), "met-x")).status_code == 201
    before = alert_count(world)
    r = post(world, "feed-y", as_sender(cap("S-2"), "met-x"))  # another key claims met-x
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["error"]["field"] == "sender"
    assert alert_count(world) == before
    assert post(world, "feed-x", as_sender(cap("S-3"), "met-x")).status_code == 201  # the owner still may


def test_another_senders_alert_cannot_be_cancelled_through_references(world):
    first = post(world, "feed-x", as_sender(cap("V-1"), "met-v")).get_json()["alert"]
    cancel = as_sender(cap("Y-1", msg_type="Cancel", refs=f"met-v,V-1,{SENT}", sent="2026-11-28T10:00:00+08:00"),
                       "met-y")
    before = alert_count(world)
    r = post(world, "feed-y", cancel)
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["error"]["field"] == "references"
    assert alert_count(world) == before
    with world.services.db.read() as s:
        assert s.get(Alert, first["id"]).state == "new"


def test_the_owner_cancels_its_alert_and_the_cancel_is_audited(world):
    first = post(world, "feed-x", as_sender(cap("C-1"), "met-c")).get_json()["alert"]
    r = post(world, "feed-x", as_sender(cap("C-2", msg_type="Cancel", refs=f"met-c,C-1,{SENT}",
                                            sent="2026-11-28T10:00:00+08:00"), "met-c"))
    assert r.status_code == 201, r.get_json()
    with world.services.db.read() as s:
        assert s.get(Alert, first["id"]).state == "resolved"
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "cap_cancel")).all()
    assert len(rows) == 1 and rows[0].actor == "feed-x"
    assert rows[0].detail["cancelled"] == [first["id"]] and rows[0].detail["sender"] == "met-c"


def test_an_area_less_alert_of_a_community_key_is_its_community(world):
    r = post(world, "feed-a", as_sender(cap("A-1"), "met-a"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["alert"]["community_id"] == world.ids["community_a"]
    # community B's dispatcher never sees it
    with world.services.db.read() as s:
        assert s.get(Alert, r.get_json()["alert"]["id"]).community_id == world.ids["community_a"]


@pytest.mark.parametrize("what", ["acknowledge", "resolve", "dispatch"])
def test_a_community_dispatcher_may_not_close_a_street_wide_alert(world, what):
    street = post(world, "feed-x", as_sender(cap(f"W-{what}"), "met-w")).get_json()["alert"]
    assert street["community_id"] is None
    body = {"comment": "x", "worker_id": world.ids["worker_a"], "category_code": "0401"}  # dispatch acknowledges
    r = world.client("dispatcher_a").post(f"/api/v1/alerts/{street['id']}/{what}", json=body)
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["error"]["field"] == "alert_id"
    with world.services.db.read() as s:
        assert s.get(Alert, street["id"]).state == "new" and s.get(Alert, street["id"]).case_id is None
    # its own community's alert it may
    own = world.ids["alert_a"]
    with world.services.db.read() as s:
        state = s.get(Alert, own).state
    if state == "new":
        assert world.client("dispatcher_a").post(f"/api/v1/alerts/{own}/acknowledge", json={}).status_code == 200
    # the street's dispatcher may
    assert world.client("dispatcher").post(f"/api/v1/alerts/{street['id']}/{what}", json=body).status_code == 200
