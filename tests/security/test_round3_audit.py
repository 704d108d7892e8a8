"""Round 3: every change today's endpoints make is in the audit log, and no secret they hand out is.

A new key's value (and a display token's kiosk URL and QR code), a device's rotated signing secret and a reset
password are shown once in the answer: the audit row names the record, never the secret."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dashboard.models import AuditLog
from tests.security.conftest import build_world


@pytest.fixture(scope="module")
def auw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("r3audit"), with_pages=False)
    yield w
    w.services.shutdown()


def rows(w) -> list[AuditLog]:
    with w.services.db.read() as s:
        out = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        for r in out:
            s.expunge(r)
        return list(out)


def count(w) -> int:
    with w.services.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditLog))


def test_every_change_is_audited_and_no_secret_is(auw):
    c, ids = auw.client("admin"), auw.ids
    secrets_seen: list[str] = []

    def call(method, url, body, status=(200, 201)):
        before = count(auw)
        r = c.open(url, method=method, json=body)
        assert r.status_code in status, (url, r.status_code, r.get_data(as_text=True)[:300])
        assert count(auw) > before, f"{method} {url} changed state but wrote no audit row"
        return r.get_json()

    call("POST", f"/api/v1/cases/{ids['case_a']}/triage", {"category_code": "0101", "note": "r3"})
    dep = call("POST", "/api/v1/departments", {"name": "城管三中队", "contact": "李 13900001111"})
    call("PATCH", f"/api/v1/departments/{dep['id']}", {"contact": "王"})
    call("DELETE", f"/api/v1/departments/{dep['id']}", None)
    u = call("POST", "/api/v1/users", {"username": "r3user", "role": "dispatcher", "password": "first secret pw 1"})
    secrets_seen.append("first secret pw 1")
    call("PATCH", f"/api/v1/users/{u['id']}", {"password": "reset secret pw 2"})
    secrets_seen.append("reset secret pw 2")
    k = call("POST", "/api/v1/api-keys", {"name": "wall-r3", "role": "display"})
    secrets_seen += [k["key"], k["kiosk_url"]]
    assert "qr_svg" in k
    call("DELETE", f"/api/v1/api-keys/{k['id']}", None)
    call("PATCH", "/api/v1/categories/0601", {"clock": "natural"})
    call("PUT", "/api/v1/governance/targets/party_per_100_households", {"target": 4})
    call("PATCH", f"/api/v1/workers/{ids['worker_a']}", {"shift": "night"})
    call("PATCH", f"/api/v1/devices/{ids['device_a']}", {"name": "东门"})
    d = call("POST", f"/api/v1/devices/{ids['device_a']}/secret", None)
    secrets_seen.append(d["secret"])
    call("PATCH", f"/api/v1/cameras/{ids['camera_a']}", {"stream_url": "rtsp://u:camerapass@10.0.0.9/live"})
    secrets_seen.append("camerapass")

    log = json.dumps([[r.action, r.target, r.detail] for r in rows(auw)], ensure_ascii=False)
    for secret in secrets_seen:
        assert secret not in log, f"a secret reached the audit log: {secret[:12]}…"
    # the key is shown once: the list of keys never carries it again
    listed = json.dumps(c.get("/api/v1/api-keys").get_json())
    assert k["key"] not in listed and "kiosk_url" not in listed and "qr_svg" not in listed


def test_a_camera_stream_password_reaches_no_viewer(auw):
    """A stream address's user:password (an admin pastes the NVR's URL) is for the server, not for every wall."""
    cam = auw.ids["camera_a"]
    assert auw.client("admin").patch(f"/api/v1/cameras/{cam}",
                                     json={"stream_url": "rtsp://u:camerapass@10.0.0.9/live"}).status_code == 200
    for role in ("display", "dispatcher", "leader"):
        for url in ("/api/v1/cameras", f"/api/v1/cameras/{cam}/view"):
            body = auw.client(role).get(url).get_data(as_text=True)
            assert "camerapass" not in body, (role, url)
