"""Cameras and access-control devices on the admin page (issue 28): names, a device's secret rotated (shown once;
the old one stops signing), a camera's stream address replaced — each in the caller's jurisdiction only."""
from __future__ import annotations

import json

from sqlalchemy import select

from dashboard.models import AuditLog, Camera
from dashboard.models.governance import AccessDevice
from dashboard.services.access_control import signed_headers
from dashboard.services.apikeys import create_api_key


def _ids(world):
    with world.services.db.read() as s:
        dev = {d.device_id: d.id for d in s.scalars(select(AccessDevice))}
        cam = {c.code: c.id for c in s.scalars(select(Camera))}
    return dev, cam


def _admin_a(world):
    with world.services.db.write() as s:
        _, key = create_api_key(s, name="admin-a-devices", role="admin", community_id=world.ids["community_a"])
    c = world.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    return c


def _event(world, device_id: str, secret: str):
    body = json.dumps({"event_id": f"e-{secret[:6]}", "type": "door_closed"}).encode()
    c = world.app.test_client()
    return c.post("/api/v1/devices/events", data=body, content_type="application/json",
                  headers=signed_headers(device_id, secret, body))


def test_a_rotated_secret_is_shown_once_and_the_old_one_stops_working(world):
    admin = world.client("admin")
    dev, _ = _ids(world)
    r = admin.post(f"/api/v1/devices/{dev['GATE-A']}/secret")
    assert r.status_code == 200
    new = r.get_json()["secret"]
    assert len(new) >= 32 and new != "x" * 32
    assert _event(world, "GATE-A", "x" * 32).status_code == 401  # the old secret signs nothing now
    assert _event(world, "GATE-A", new).status_code in (200, 201, 202)
    listed = admin.get("/api/v1/devices").get_json()["devices"]
    assert new not in json.dumps(listed)
    with world.services.db.read() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "device_secret_rotate")).all()[-1]
        assert row.target == "device:GATE-A" and new not in json.dumps(row.detail)


def test_devices_and_cameras_are_edited_in_the_jurisdiction_only(world):
    a = _admin_a(world)
    dev, cam = _ids(world)
    assert a.post(f"/api/v1/devices/{dev['GATE-B']}/secret").status_code == 404
    assert a.patch(f"/api/v1/devices/{dev['GATE-B']}", json={"name": "x"}).status_code == 404
    assert a.patch(f"/api/v1/cameras/{cam['CAM-B']}", json={"name": "x"}).status_code == 404
    r = a.patch(f"/api/v1/devices/{dev['GATE-A']}", json={"name": "东门门禁", "active": True})
    assert r.status_code == 200 and r.get_json()["name"] == "东门门禁"
    r = a.patch(f"/api/v1/cameras/{cam['CAM-A']}", json={"stream_url": "rtsp://user:new@10.0.0.5/1"})
    assert r.status_code == 200 and "new@" not in json.dumps(r.get_json())
    with world.services.db.read() as s:
        assert s.get(Camera, cam["CAM-A"]).stream_url == "rtsp://user:new@10.0.0.5/1"
        assert "new@" not in json.dumps([x.detail for x in s.scalars(select(AuditLog).where(
            AuditLog.action == "camera_edit"))])
    # bad input names its field
    for path, body, field in ((f"/api/v1/cameras/{cam['CAM-A']}", {"stream_url": "javascript:alert(1)"}, "stream_url"),
                              (f"/api/v1/cameras/{cam['CAM-A']}", {"code": "X"}, "code"),
                              (f"/api/v1/devices/{dev['GATE-A']}", {"active": "no"}, "active"),
                              (f"/api/v1/devices/{dev['GATE-A']}", {"name": ""}, "name")):
        r = a.patch(path, json=body)
        assert r.status_code in (400, 422) and r.get_json()["error"]["field"] == field, (body, r.get_json())
    assert world.client("dispatcher").post(f"/api/v1/devices/{dev['GATE-A']}/secret").status_code == 403
