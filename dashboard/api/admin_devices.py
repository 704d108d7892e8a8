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

from typing import Annotated

from flask import Blueprint, jsonify, request
from pydantic import Field, StringConstraints, field_validator

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
from .schemas import LEFT_OUT, StrictBody, StrictBool, fields_set

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "sim")


def _object(body: object, allowed: tuple[str, ...]) -> dict:
    if not isinstance(body, dict) or not body:
        raise ApiError(400, "send a JSON object with the fields to change", "body")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"{unknown[0]} cannot be edited here; fields: {', '.join(allowed)}", unknown[0])
    return body


DeviceName = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=128)]


class DeviceEditIn(StrictBody):
    """An access-control device's fields to change."""

    name: DeviceName = LEFT_OUT
    active: StrictBool = LEFT_OUT


class CameraEditIn(StrictBody):
    """A camera's fields to change; a new ``stream_url`` is how its credentials are rotated (never shown back)."""

    name: DeviceName = LEFT_OUT
    stream_url: str = Field(default=LEFT_OUT, strict=True, max_length=512,
                            description=f"a {', '.join(STREAM_SCHEMES)} address")

    @field_validator("stream_url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if urlsplit(v).scheme not in STREAM_SCHEMES:
            raise ValueError(f"must be a {', '.join(STREAM_SCHEMES)} address")
        return v


def _fields(model: type[StrictBody]) -> dict:
    """The body's fields: an unknown one is a 400 naming it (this page does not edit it), a bad one a 422."""
    return fields_set(model, _object(request.get_json(silent=True), tuple(model.model_fields)))

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
    body = _fields(DeviceEditIn)
    with services().db.write() as s:
        d = device_in_scope(s, device_pk)
        if "name" in body:
            d.name = body["name"]
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
    body = _fields(CameraEditIn)
    with services().db.write() as s:
        c = s.get(Camera, camera_id)
        comm = s.get(Grid, c.grid_id).community_id if c is not None and c.grid_id else None
        p = resolve_principal(services())
        # a camera outside every grid is the street's: a community admin sees it but does not edit it
        if c is None or not in_scope(p, comm) or (p is not None and p.community_id is not None and comm is None):
            raise ApiError(404, f"no camera {camera_id}", "camera_id")
        if "name" in body:
            c.name = body["name"]
        if "stream_url" in body:
            c.stream_url = body["stream_url"]
        audit.record(s, p, "camera_edit", f"camera:{c.code}", {"fields": sorted(body)}, ip())
        out = camera_public(c)
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    pid = lambda n: [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}]  # noqa: E731
    api.add("/api/v1/devices/{device_pk}", "patch", summary="Edit an access-control device (admin)", tags=["admin"],
            roles=("admin",), params=pid("device_pk"), body=DeviceEditIn)
    api.add("/api/v1/devices/{device_pk}/secret", "post", summary="Rotate a device's signing secret, shown once "
            "(admin)", tags=["admin"], roles=("admin",), params=pid("device_pk"))
    api.add("/api/v1/cameras/{camera_id}", "patch", summary="Edit a camera's name or stream address (admin)",
            tags=["admin"], roles=("admin",), params=pid("camera_id"),
            body=CameraEditIn)
