"""The worker picker (/api/v1/workers?q=): a dispatcher finds a worker by code, by the whole device id, or by her
whole name — never by part of a name, which would read the masked names out one character at a time."""
from __future__ import annotations

import pytest

from dashboard.models import Role, Worker
from tests.api.conftest import make_key

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def found(client, key, q):
    r = client.get("/api/v1/workers", query_string={"q": q}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.get_json()
    return [w["id"] for w in r.get_json()["items"]]


def test_whole_name_finds_her_part_of_a_name_does_not(district):
    app, services, world = district
    wid = world["worker_ids"][0]
    with services.db.write() as s:
        s.get(Worker, wid).name = "欧阳娜娜"
    key = make_key(services, Role.DISPATCHER)
    client = app.test_client()
    assert found(client, key, "欧阳娜娜") == [wid]
    assert found(client, key, " 欧阳娜娜 ") == [wid]
    for part in ("欧阳", "娜娜", "欧", "欧**娜"):
        assert wid not in found(client, key, part), part
    items = client.get("/api/v1/workers", query_string={"q": "欧阳娜娜"},
                       headers={"Authorization": f"Bearer {key}"}).get_json()["items"]
    assert items[0]["name"] == "欧**娜"  # found by name, still shown masked
