"""Issue 25 item 9 (part): idempotency keys are namespaced by who reports — an API key by its id, a user by
theirs. The namespace used to be the key's name cut short, so two integration keys whose names share a long
prefix answered each other's reports with the other's case."""
from __future__ import annotations

from dashboard.services.apikeys import create_api_key
from tests.security.conftest import POSITION_A

PREFIX = "integration-partner-platform-xian-"  # longer than the old cut


def _report(client, key: str):
    return client.post("/api/v1/cases", headers={"Idempotency-Key": key}, json={
        "category_code": "0101", "description": "垃圾堆放", "lat": POSITION_A[0], "lon": POSITION_A[1]})


def test_keys_with_a_common_prefix_do_not_share_cases(world):
    with world.services.db.write() as s:
        _, one = create_api_key(s, name=PREFIX + "one", role="integration")
        _, two = create_api_key(s, name=PREFIX + "two", role="integration")
    a, b = world.app.test_client(), world.app.test_client()
    a.environ_base["HTTP_X_API_KEY"], b.environ_base["HTTP_X_API_KEY"] = one, two
    first = _report(a, "report-0001")
    assert first.status_code == 201, first.get_data(as_text=True)
    other = _report(b, "report-0001")
    assert other.status_code == 201, "the second key got the first key's case"
    assert other.get_json()["id"] != first.get_json()["id"]
    again = _report(a, "report-0001")  # a true retry still answers with the first case
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]


def test_same_named_keys_do_not_share_cases(world):
    with world.services.db.write() as s:
        _, one = create_api_key(s, name="partner", role="integration")
        _, two = create_api_key(s, name="partner", role="integration")
    a, b = world.app.test_client(), world.app.test_client()
    a.environ_base["HTTP_X_API_KEY"], b.environ_base["HTTP_X_API_KEY"] = one, two
    assert _report(a, "report-0002").status_code == 201
    assert _report(b, "report-0002").status_code == 201
