"""Device signals in: ``POST /api/v1/devices/events`` (signed webhook) and the device list.

The webhook is authenticated by the device's own HMAC signature (see
services/access_control.py for the header names), not by a user or API key: a door
controller has neither. It is committed before it is acknowledged (201).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..models.governance import AccessDevice
from ..models import Role
from ..services.access_control import DeviceRefused, device_public, receive
from ..services.alerts import alert_public
from .deps import services
from .auth import require
from ..principal import resolve_principal, scope_community
from .errors import ApiError

MAX_BODY = 16 * 1024
bp = Blueprint("devices", __name__)


@bp.post("/api/v1/devices/events")
def device_event():
    """One signed device event → stored, deduplicated, mapped to compound and grid, alert rules applied."""
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        raise ApiError(413, f"body larger than {MAX_BODY} bytes")
    try:
        with services().db.write() as s:
            got = receive(s, request.headers, body)
            answer = {"accepted": True, "event_id": got.event.event_id, "kind": got.event.kind,
                      "device_id": got.device.device_id, "grid_id": got.device.grid_id,
                      "community_id": got.device.community_id, "place_id": got.device.place_id,
                      "alert": alert_public(got.alert) if got.alert is not None else None,
                      "alert_created": got.alert_created}
    except DeviceRefused as r:
        raise ApiError(r.status, r.message, r.field)
    except IntegrityError:  # the same event id committed concurrently by another request
        raise ApiError(409, "this event id was already received", "event_id")
    return jsonify(answer), 201


@bp.get("/api/v1/devices")
@require(Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
def device_list():
    """Access-control devices with their compound, grid and online state (never their secrets), in the
    caller's jurisdiction."""
    q = select(AccessDevice).order_by(AccessDevice.device_id)
    comm = scope_community(resolve_principal(services()))
    if comm is not None:
        q = q.where(AccessDevice.community_id == comm)
    with services().db.read() as s:
        rows = [device_public(d) for d in s.scalars(q)]
    return jsonify({"devices": rows})


def register(app, services) -> None:
    app.register_blueprint(bp)
