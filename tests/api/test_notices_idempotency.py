"""Publishing a notice is idempotent (issue 31): a phone retrying POST /api/v1/notices on a flaky network with the
same Idempotency-Key gets the first notice back (200) and publishes nothing more — no second notice, outbox message
or live push (the retried request itself is on the audit log, as a case report's is); another author's same key is
her own notice. The clock is pinned."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dashboard.models.residents import Notice, NotifyOutbox
from dashboard.timeutil import UTC
from tests.api.conftest import make_key

T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, pinned


@pytest.fixture
def world(district):
    app, services, w = district
    services.clock = lambda: T0
    keys = {"w1": make_key(services, "worker", worker_id=w["worker_ids"][0]),
            "w2": make_key(services, "worker", worker_id=w["worker_ids"][1]),
            "street": make_key(services, "dispatcher")}
    return app, services, keys


def post(app, key, body, idem=None):
    headers = {"X-API-Key": key, **({"Idempotency-Key": idem} if idem is not None else {})}
    return app.test_client().post("/api/v1/notices", json=body, headers=headers)


def counts(services) -> tuple[int, int]:
    with services.db.read() as s:
        return (s.scalar(select(func.count()).select_from(Notice)),
                s.scalar(select(func.count()).select_from(NotifyOutbox)))


def test_a_retry_with_the_same_key_returns_the_first_notice_and_publishes_nothing_more(world, monkeypatch):
    app, services, keys = world
    pushed = []
    monkeypatch.setattr("dashboard.api.notices.push", lambda grids, msg: pushed.append(msg))
    body = {"scope": "grid", "title": "明天停水", "body": "9:00–12:00", "urgent": True}
    first = post(app, keys["w1"], body, idem="compose-0001")
    assert first.status_code == 201, first.get_json()
    before = counts(services)
    for _ in range(3):  # the answer was lost: the phone sends again, even a re-timed body
        again = post(app, keys["w1"], {**body, "valid_until": "2026-12-09T09:00:00"}, idem="compose-0001")
        assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert counts(services) == before and len(pushed) == 1
    # another composition is another notice; without a key every post publishes
    assert post(app, keys["w1"], body, idem="compose-0002").status_code == 201
    assert post(app, keys["w1"], body).status_code == 201
    assert post(app, keys["w1"], body).status_code == 201
    assert counts(services)[0] == before[0] + 3
    # the same key from another author is hers, not an answer with w1's notice
    other = post(app, keys["w2"], body, idem="compose-0001")
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    street = post(app, keys["street"], {"scope": "street", "title": "全街道通知"}, idem="compose-0001")
    assert street.status_code == 201 and street.get_json()["id"] not in (first.get_json()["id"], other.get_json()["id"])


@pytest.mark.parametrize("bad", ["short", "x" * 101, "abc\tdefghij"])
def test_a_bad_key_is_a_422_naming_it_and_nothing_is_published(world, bad):
    app, services, keys = world
    before = counts(services)
    r = post(app, keys["w1"], {"scope": "grid", "title": "x"}, idem=bad)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "Idempotency-Key"
    assert counts(services) == before
