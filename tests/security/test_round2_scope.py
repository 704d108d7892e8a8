"""Issue 25 item 8: community-bound admins and workers.

A community admin reads only its community's audit rows, cannot edit the street's category catalogue, and
cannot bind a new key to another community's worker. A worker key must name its worker (API and CLI) and sees
its own tasks and reports only: not every case or photo, nor the street's live positions.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.models import ApiKey, Category, Worker
from dashboard.services import audit
from dashboard.services.apikeys import create_api_key
from tests.security.conftest import build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("scope2"), with_pages=False)
    with w.services.db.write() as s:
        for name, role, comm, wid in (("admin-a", "admin", w.ids["community_a"], None),
                                      ("bare-worker", "worker", None, None)):
            _, w.keys[name] = create_api_key(s, name=name, role=role, community_id=comm, worker_id=wid)
    yield w
    w.services.shutdown()


def key_count(world) -> int:
    with world.services.db.read() as s:
        return s.scalar(select(func.count()).select_from(ApiKey))


def test_a_community_admin_reads_only_its_communitys_audit_rows(world):
    from dashboard.principal import Principal

    with world.services.db.write() as s:
        audit.record(s, Principal(name="op-b", role="dispatcher", community_id=world.ids["community_b"]),
                     "unmask", "case:1", {"reason": "B's secret"})
        audit.record(s, Principal(name="op-street", role="dispatcher"), "unmask", "case:2", {"reason": "street"})
        audit.record(s, Principal(name="op-a", role="dispatcher", community_id=world.ids["community_a"]),
                     "unmask", "case:3", {"reason": "A's own"})
    entries = world.client("admin-a").get("/api/v1/audit?limit=1000").get_json()["entries"]
    actors = {e["actor"] for e in entries}
    assert "op-a" in actors and "op-b" not in actors and "op-street" not in actors, actors
    assert {e["community_id"] for e in entries} == {world.ids["community_a"]}
    # the street's admin reads every row
    assert {"op-a", "op-b", "op-street"} <= {e["actor"] for e in world.client("admin").get(
        "/api/v1/audit?limit=1000").get_json()["entries"]}


def test_the_category_catalogue_is_the_streets(world):
    with world.services.db.read() as s:
        before = s.get(Category, "0101").time_limit_hours
    r = world.client("admin-a").patch("/api/v1/categories/0101", json={"time_limit_hours": before + 5})
    assert r.status_code == 403, r.get_json()
    with world.services.db.read() as s:
        assert s.get(Category, "0101").time_limit_hours == before
    r = world.client("admin").patch("/api/v1/categories/0101", json={"time_limit_hours": before + 5})
    assert r.status_code == 200, r.get_json()


def test_a_community_admin_cannot_bind_a_key_to_another_communitys_worker(world):
    before = key_count(world)
    r = world.client("admin-a").post("/api/v1/api-keys", json={"name": "phone-b", "role": "worker",
                                                               "worker_id": world.ids["worker_b"]})
    assert r.status_code in (403, 422), r.get_json()
    assert r.get_json()["error"]["field"] == "worker_id"
    assert key_count(world) == before
    r = world.client("admin-a").post("/api/v1/api-keys", json={"name": "phone-a", "role": "worker",
                                                               "worker_id": world.ids["worker_a"]})
    assert r.status_code == 201 and r.get_json()["worker_id"] == world.ids["worker_a"]


def test_a_worker_key_names_its_worker(world):
    before = key_count(world)
    r = world.client("admin").post("/api/v1/api-keys", json={"name": "phone-x", "role": "worker"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "worker_id", r.get_json()
    assert key_count(world) == before


def test_create_api_key_cli_needs_a_worker_for_a_worker_key(tmp_path, capsys):
    import run

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with pytest.raises(SystemExit) as e:
        run.main(["--db", db, "create-api-key", "--name", "phone", "--role", "worker"])
    assert e.value.code != 0 and "--worker" in capsys.readouterr().err
    from dashboard.db import make_engine
    from sqlalchemy.orm import Session
    from tests.utils.factories import make_district

    engine = make_engine(db)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ApiKey)) == 0
        make_district(s)
        s.commit()
        code = s.scalars(select(Worker.code).order_by(Worker.id)).first()
        wid = s.scalar(select(Worker.id).where(Worker.code == code))
    with pytest.raises(SystemExit) as e:
        run.main(["--db", db, "create-api-key", "--name", "phone", "--role", "worker", "--worker", "NO-SUCH"])
    assert e.value.code != 0 and "NO-SUCH" in capsys.readouterr().err
    run.main(["--db", db, "create-api-key", "--name", "phone", "--role", "worker", "--worker", code])
    with Session(engine) as s:
        (row,) = s.scalars(select(ApiKey)).all()
        assert row.worker_id == wid and row.role == "worker"
    engine.dispose()


def own_case_ids(world, wid: int) -> set[int]:
    from dashboard.models import Case

    with world.services.db.read() as s:
        return set(s.scalars(select(Case.id).where((Case.reporter_worker_id == wid) |
                                                   (Case.assigned_worker_id == wid))))


def test_a_worker_sees_its_own_cases_and_photos_only(world):
    w = world.client("worker")
    items = w.get("/api/v1/cases?page_size=500").get_json()["items"]
    assert {c["id"] for c in items} <= own_case_ids(world, world.ids["worker_a"])
    for tag in ("a", "b"):  # the hotline cases of both grids are neither reported by nor assigned to it
        assert w.get(f"/api/v1/cases/{world.ids['case_' + tag]}").status_code == 404
        assert w.get(f"/api/v1/photos/{world.ids['photo_' + tag]}").status_code == 404
    bare = world.client("bare-worker")  # an old key made without a worker sees nothing, and cannot report
    assert bare.get("/api/v1/cases").get_json()["items"] == []
    assert bare.get(f"/api/v1/photos/{world.ids['photo_a']}").status_code == 404


def test_a_worker_does_not_see_the_streets_live_positions(world):
    for name in ("worker", "bare-worker"):
        c = world.client(name)
        snap = c.get("/api/v1/snapshot").get_json()
        others = [row for row in snap["workers"] if row[0] != world.ids["worker_a"] or name == "bare-worker"]
        assert others == [], (name, others)
        assert {x["id"] for x in snap["cases"]} <= own_case_ids(world, world.ids["worker_a"])
        ev = c.get("/api/v1/events?after=0&limit=5000").get_json()["events"]
        for e in ev:
            if e["type"] == "positions":
                rows = e["payload"].get("rows") or e["payload"].get("workers") or []
                assert all(r[0] == world.ids["worker_a"] and name == "worker" for r in rows), (name, e)
            else:
                assert e["type"] in ("case", "alert", "worker"), (name, e["type"])
        assert c.get("/api/v1/replay").status_code == 403


def test_a_worker_principal_is_scoped_to_itself():
    from dashboard.principal import Principal

    assert Principal(name="w", role="worker", worker_id=3).scope == "worker"
    assert Principal(name="w", role="worker", community_id=1, worker_id=3).scope == "worker"
    assert Principal(name="d", role="dispatcher", community_id=1).scope == "community"
    assert Principal(name="d", role="dispatcher").scope == "street"
