"""A grid worker's phone hears only about itself over the live channel (issues 25.8 and 26): its own room,
its own tasks and reports; never the street's events or other workers' positions."""
from __future__ import annotations

import pytest

from dashboard import events
from dashboard.models import Case, Role
from dashboard.services.cases import CaseReport, report_case, transition
from tests.api.conftest import make_key

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def phone(app, services, worker_id: int):
    key = make_key(services, Role.WORKER, worker_id=worker_id)
    return services.socketio.test_client(app, headers={"Authorization": f"Bearer {key}"})


def batches(client) -> list[dict]:
    return [m["args"][0] for m in client.get_received() if m["name"] == "events"]


def test_a_phone_hears_its_own_task_and_nothing_of_the_street(district):
    app, services, w = district
    w1, w2 = w["worker_ids"]
    lat, lon = w["centers"][0]
    mine, other = phone(app, services, w1), phone(app, services, w2)
    for c in (mine, other):
        c.get_received()
    with services.db.write() as s:
        case, _ = report_case(s, CaseReport(category_code="0101", lat=lat, lon=lon), locator=services.locator)
        events.record(s, "positions", {"workers": [[w1, lat, lon, "patrolling", None, None],
                                                   [w2, lat, lon, "patrolling", None, None]]})
        case_id = case.id
    assert batches(mine) == [] and batches(other) == []  # a street report, and positions: nobody's phone
    with services.db.write() as s:
        transition(s, s.get(Case, case_id), "dispatch", actor="test", worker_id=w1, calendar=services.calendar)
    (got,) = batches(mine)
    assert got["scope"] == "worker" and "prev" not in got
    cases = [e["payload"]["case"] for e in got["events"] if e["type"] == "case"]
    assert [c["id"] for c in cases] == [case_id] and cases[0]["assigned_worker_id"] == w1
    assert all(e["payload"]["worker"]["id"] == w1 for e in got["events"] if e["type"] == "worker")
    assert {e["type"] for e in got["events"]} <= {"case", "worker"}
    assert batches(other) == []
    mine.disconnect()
    other.disconnect()
