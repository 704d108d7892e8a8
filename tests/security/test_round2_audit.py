"""Issue 25 items 11 and 12: the audit log names what it records.

Open311 creates are on record; ``case_create`` names the case it created (its code); an API-key actor is
recorded by key id as well as name (two keys may share a name); a replay through the briefing page is on
record as one through the API is; display keys do not read the replay (the wall does not use it).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.models import ApiKey, AuditLog, Case, Grid
from dashboard.services.apikeys import create_api_key
from tests.security.conftest import POSITION_A, build_world
from tests.security.test_pages_access import briefing_call


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("audit2"))
    yield w
    w.services.shutdown()


def rows(world, action: str) -> list[AuditLog]:
    with world.services.db.read() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def key_id(world, name: str) -> int:
    with world.services.db.read() as s:
        return s.scalar(select(ApiKey.id).where(ApiKey.name == name))


def test_case_create_names_the_case_and_the_key_by_id(world):
    lat, lon = POSITION_A
    r = world.client("integration").post("/api/v1/cases", json={"category_code": "0101", "lat": lat, "lon": lon,
                                                               "description": "审计"})
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    (row,) = [x for x in rows(world, "case_create") if x.target == f"case:{code}"]
    assert row.actor == "test-integration" and row.api_key_id == key_id(world, "test-integration")


def test_two_keys_of_one_name_are_told_apart(world):
    with world.services.db.write() as s:
        k1, plain1 = create_api_key(s, name="twin", role="integration")
        k2, plain2 = create_api_key(s, name="twin", role="integration")
        ids = (k1.id, k2.id)
    lat, lon = POSITION_A
    for plain in (plain1, plain2):
        c = world.app.test_client()
        r = c.post("/api/v1/cases", json={"category_code": "0101", "lat": lat, "lon": lon, "description": "双"},
                   headers={"X-API-Key": plain})
        assert r.status_code == 201
    assert {x.api_key_id for x in rows(world, "case_create") if x.actor == "twin"} == set(ids)


def test_open311_create_is_on_record(world):
    with world.services.db.read() as s:
        g = s.get(Grid, world.ids["grid_a"])
        lat, lon = g.centroid_lat, g.centroid_lon
    r = world.client(None).post("/open311/v2/requests.json", data={
        "api_key": world.keys["integration"], "service_code": "0101", "lat": str(lat), "long": str(lon),
        "description": "市民来电"})
    assert r.status_code == 200, r.get_data(as_text=True)
    code = r.get_json()[0]["service_request_id"]
    with world.services.db.read() as s:
        assert s.scalar(select(Case.id).where(Case.code == code)) is not None
    (row,) = [x for x in rows(world, "open311_create") if x.target == f"case:{code}"]
    assert row.actor == "test-integration" and row.api_key_id == key_id(world, "test-integration")


def test_a_replay_through_the_page_is_on_record(world):
    before = len(rows(world, "replay_view"))
    r = briefing_call(world.client("leader"), "")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    after = rows(world, "replay_view")
    assert len(after) == before + 1
    assert after[-1].actor == "test-leader" and after[-1].target.startswith("replay:")
    assert after[-1].detail.get("via") == "page"


def test_a_replay_through_the_api_is_on_record_and_display_keys_do_not_read_it(world):
    before = len(rows(world, "replay_view"))
    assert world.client("leader").get("/api/v1/replay?day=2026-11-20").status_code == 200
    after = rows(world, "replay_view")
    assert len(after) == before + 1 and after[-1].target == "replay:2026-11-20"
    r = world.client("display").get("/api/v1/replay")
    assert r.status_code == 403, r.get_json()
    assert len(rows(world, "replay_view")) == before + 1
