"""Admin edits of cameras and access-control devices from the admin page (issue 28), in the caller's jurisdiction:

- ``PATCH /api/v1/devices/<id>``: name, active;
- ``POST /api/v1/devices/<id>/secret``: a new signing secret, shown once in the answer (the device must be given
  it: its webhooks signed with the old one are refused from now on);
- ``PATCH /api/v1/cameras/<id>``: name, stream_url (where the camera's credentials live: replacing the URL is
  how they are rotated; the URL is never shown back).
Each change is in the audit log, naming the fields (never a secret or a URL).
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, request

from ..models import Camera, Grid, Role
from ..models.governance import AccessDevice
from ..principal import in_scope, resolve_principal
from ..services import audit
from ..services.access_control import device_public
from ..services.cameras import camera_public
from .deps import services
from .auth import require
from .errors import ApiError
from .openapi import registry

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "sim")


def _object(body: object, allowed: tuple[str, ...]) -> dict:
    if not isinstance(body, dict) or not body:
        raise ApiError(400, "send a JSON object with the fields to change", "body")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"{unknown[0]} cannot be edited here; fields: {', '.join(allowed)}", unknown[0])
    return body


def _name(v: object) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > 128:
        raise ApiError(422, "name must be 1–128 characters", "name")
    return v.strip()

def ip() -> str | None:
    """The caller's address, for the audit row."""
    return request.remote_addr


bp = Blueprint("admin_devices", __name__)


def device_in_scope(s, device_pk: int) -> AccessDevice:
    d = s.get(AccessDevice, device_pk)
    if d is None or not in_scope(resolve_principal(services()), d.community_id):
        raise ApiError(404, f"no device {device_pk}", "id")
    return d


@bp.patch("/api/v1/devices/<int:device_pk>")
@require(Role.ADMIN)
def device_edit(device_pk: int):
    body = _object(request.get_json(silent=True), ("name", "active"))
    if "active" in body and not isinstance(body["active"], bool):
        raise ApiError(422, "active must be true or false", "active")
    with services().db.write() as s:
        d = device_in_scope(s, device_pk)
        if "name" in body:
            d.name = _name(body["name"])
        if "active" in body:
            d.active = body["active"]
        audit.record(s, resolve_principal(services()), "device_edit", f"device:{d.device_id}",
                     {"fields": sorted(body)}, ip())
        out = {**device_public(d), "active": d.active}
    return jsonify(out)


@bp.post("/api/v1/devices/<int:device_pk>/secret")
@require(Role.ADMIN)
def device_secret_rotate(device_pk: int):
    """A new signing secret for the device, shown once here; the old one stops working at once."""
    with services().db.write() as s:
        d = device_in_scope(s, device_pk)
        d.secret = secrets.token_urlsafe(32)
        audit.record(s, resolve_principal(services()), "device_secret_rotate", f"device:{d.device_id}", None, ip())
        out = {**device_public(d), "secret": d.secret}
    return jsonify(out)


@bp.patch("/api/v1/cameras/<int:camera_id>")
@require(Role.ADMIN)
def camera_edit(camera_id: int):
    body = _object(request.get_json(silent=True), ("name", "stream_url"))
    if "stream_url" in body:
        url = body["stream_url"]
        if not isinstance(url, str) or len(url) > 512 or urlsplit(url).scheme not in STREAM_SCHEMES:
            raise ApiError(422, f"stream_url must be a {', '.join(STREAM_SCHEMES)} address", "stream_url")
    with services().db.write() as s:
        c = s.get(Camera, camera_id)
        comm = s.get(Grid, c.grid_id).community_id if c is not None and c.grid_id else None
        p = resolve_principal(services())
        # a camera outside every grid is the street's: a community admin sees it but does not edit it
        if c is None or not in_scope(p, comm) or (p is not None and p.community_id is not None and comm is None):
            raise ApiError(404, f"no camera {camera_id}", "camera_id")
        if "name" in body:
            c.name = _name(body["name"])
        if "stream_url" in body:
            c.stream_url = body["stream_url"]
        audit.record(s, p, "camera_edit", f"camera:{c.code}", {"fields": sorted(body)}, ip())
        out = camera_public(c)
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    pid = lambda n: [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}]  # noqa: E731
    s_, b_ = {"type": "string"}, {"type": "boolean"}
    api.add("/api/v1/devices/{device_pk}", "patch", summary="Edit an access-control device (admin)", tags=["admin"],
            roles=("admin",), params=pid("device_pk"), body={"type": "object", "properties": {"name": s_, "active": b_}})
    api.add("/api/v1/devices/{device_pk}/secret", "post", summary="Rotate a device's signing secret, shown once "
            "(admin)", tags=["admin"], roles=("admin",), params=pid("device_pk"))
    api.add("/api/v1/cameras/{camera_id}", "patch", summary="Edit a camera's name or stream address (admin)",
            tags=["admin"], roles=("admin",), params=pid("camera_id"),
            body={"type": "object", "properties": {"name": s_, "stream_url": s_}})
