"""Access-control and device signals in: a signed webhook, deduplicated, mapped to the
compound and grid, feeding the alert rules.

A device signs each request with its own secret (see ``sign``)::

    X-GC-Device:    <device_id>                      (access_device.device_id)
    X-GC-Timestamp: <unix seconds>                   (the device's clock when it sent)
    X-GC-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

A missing header, an unknown device, a bad signature or a timestamp more than
``WINDOW_S`` from the server's clock is refused (401). The body is JSON
``{"event_id", "type", "occurred_at"?, "duration_s"?}``; an ``event_id`` the device
already sent is refused (409) — a device that retries a delivery may treat 409 as
"already have it". Either refusal changes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import events
from ..models import Alert, Grid, Place
from ..models.governance import AccessDevice, DeviceEvent
from ..timeutil import UTC, iso, local, utcnow
from .alerts import raise_alert

HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_SIGNATURE = "X-GC-Device", "X-GC-Timestamp", "X-GC-Signature"
WINDOW_S = 300
HELD_OPEN_ALERT_S = 300
NIGHT_START_H, NIGHT_END_H = 22, 6  # Asia/Shanghai
EVENT_KINDS = ("door_forced", "door_held_open", "device_offline", "smoke_alarm", "device_online", "door_closed")
TITLES = {"door_forced": "门禁被强行打开", "door_held_open": "夜间门禁长时间未关", "smoke_alarm": "烟感报警",
          "device_offline": "门禁设备离线"}


class DeviceRefused(Exception):
    """A request the webhook refuses: 401 (who/signature/window), 409 (replay) or 400 (body)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass
class Received:
    event: DeviceEvent
    device: AccessDevice
    alert: Alert | None
    alert_created: bool


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-GC-Signature value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(device_id: str, secret: str, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
    """Headers a device sends (used by the simulator and tests, and as the reference for vendors)."""
    ts = str(int((at or utcnow()).timestamp()))
    return {HEADER_DEVICE: device_id, HEADER_TIMESTAMP: ts, HEADER_SIGNATURE: sign(secret, ts, body),
            "Content-Type": "application/json"}


def authenticate(session: Session, headers: Mapping[str, str], body: bytes, now: datetime) -> AccessDevice:
    """The device that signed this request, or DeviceRefused(401)."""
    device_id, ts, sig = (headers.get(h, "").strip() for h in (HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_SIGNATURE))
    if not device_id or not ts or not sig:
        raise DeviceRefused(401, f"send {HEADER_DEVICE}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE}")
    try:
        sent = int(ts)
    except ValueError:
        raise DeviceRefused(401, f"{HEADER_TIMESTAMP} must be unix seconds", HEADER_TIMESTAMP)
    device = session.scalar(select(AccessDevice).where(AccessDevice.device_id == device_id,
                                                       AccessDevice.active.is_(True)))
    # the same answer for an unknown device and a bad signature: do not reveal which ids exist
    if device is None or not hmac.compare_digest(sign(device.secret, ts, body), sig):
        raise DeviceRefused(401, "unknown device or bad signature", HEADER_SIGNATURE)
    if abs(now.timestamp() - sent) > WINDOW_S:
        raise DeviceRefused(401, f"{HEADER_TIMESTAMP} is more than {WINDOW_S} s from the server clock",
                            HEADER_TIMESTAMP)
    return device


EventKind = Literal[EVENT_KINDS]  # type: ignore[valid-type]


class DeviceEventIn(BaseModel):
    """A device's event (other fields are kept as its payload)."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(description="unique per device; a repeat is refused (409)",
                          json_schema_extra={"minLength": 1, "maxLength": 64})
    type: EventKind  # type: ignore[valid-type]
    occurred_at: datetime | None = Field(default=None, description="ISO 8601 with offset; default: the "
                                                                   "X-GC-Timestamp")
    duration_s: float | None = Field(default=None, validate_default=True,
                                     description="door_held_open: seconds the door has been open (required)",
                                     json_schema_extra={"minimum": 0, "maximum": 7 * 86400})

    @field_validator("event_id", mode="before")
    @classmethod
    def _event_id(cls, v: Any) -> str:
        event_id = str(v or "").strip()
        if not event_id or len(event_id) > 64:
            raise ValueError("event_id is required (1–64 characters)")
        return event_id

    @field_validator("type", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> Any:
        if v not in EVENT_KINDS:
            raise ValueError(f"type must be one of {', '.join(EVENT_KINDS)}")
        return v

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred(cls, v: Any) -> datetime | None:
        if not v:
            return None
        try:
            occurred = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("occurred_at must be ISO 8601 with an offset")
        if occurred.tzinfo is None:
            raise ValueError("occurred_at must carry an offset")
        return occurred

    @field_validator("duration_s", mode="before")
    @classmethod
    def _duration(cls, v: Any, info: ValidationInfo) -> float | None:
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if info.data.get("type") == "door_held_open" and not (number and 0 <= v <= 7 * 86400):
            raise ValueError("duration_s (seconds the door has been open) is required")
        return float(v) if number else None  # not a number: only kept in the payload


def parse_body(body: bytes, sent_at: datetime) -> dict[str, Any]:
    """The event fields, or DeviceRefused(400) naming the field."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DeviceRefused(400, "body must be a JSON object")
    if not isinstance(data, dict):
        raise DeviceRefused(400, "body must be a JSON object")
    try:
        ev = DeviceEventIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        msg = err["msg"].removeprefix("Value error, ")
        raise DeviceRefused(400, msg if err["type"] == "value_error" else f"{field}: {msg}", field)
    return {"event_id": ev.event_id, "kind": ev.type, "occurred_at": (ev.occurred_at or sent_at).astimezone(UTC),
            "duration_s": ev.duration_s,
            "payload": {k: v for k, v in data.items() if k not in ("event_id", "type")}}


def is_night(at: datetime) -> bool:
    h = local(at).hour
    return h >= NIGHT_START_H or h < NIGHT_END_H


def night_overlaps(start: datetime, end: datetime) -> bool:
    """True if any moment of [start, end] lies between 22:00 and 06:00 Asia/Shanghai."""
    if end < start:
        return False
    if is_night(start) or is_night(end):
        return True
    loc = local(start)
    next_night = loc.replace(hour=NIGHT_START_H, minute=0, second=0, microsecond=0)
    return next_night <= local(end)


def alert_rule(kind: str, occurred: datetime, duration_s: float | None, event_id: str) -> tuple[str, str] | None:
    """(severity, dedupe key suffix) if this event raises an alert, else None.

    A forced door alerts per event; a door held open once per opening (reports at 5, 10 …
    minutes of the same opening share it); smoke once per 10 minutes and offline once
    per hour per device, however often the device repeats itself.
    """
    if kind == "door_forced":
        return "moderate", f"forced:{event_id}"
    if kind == "door_held_open" and duration_s is not None and duration_s > HELD_OPEN_ALERT_S:
        opened = occurred - timedelta(seconds=duration_s)
        if night_overlaps(opened + timedelta(seconds=HELD_OPEN_ALERT_S), occurred):
            return "moderate", f"held_open:{local(opened):%Y%m%d%H%M}"
        return None
    if kind == "smoke_alarm":
        return "severe", f"smoke:{local(occurred):%Y%m%d%H}{local(occurred).minute // 10}"
    if kind == "device_offline":
        return "minor", f"offline:{local(occurred):%Y%m%d%H}"
    return None


def receive(session: Session, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None) -> Received:
    """Authenticate, deduplicate and store one device event, apply the alert rules."""
    now = now or utcnow()
    device = authenticate(session, headers, body, now)
    fields = parse_body(body, datetime.fromtimestamp(int(headers[HEADER_TIMESTAMP]), UTC))
    if session.scalar(select(DeviceEvent.id).where(DeviceEvent.device_pk == device.id,
                                                   DeviceEvent.event_id == fields["event_id"])):
        raise DeviceRefused(409, f"event {fields['event_id']} of {device.device_id} was already received", "event_id")
    ev = DeviceEvent(device_pk=device.id, event_id=fields["event_id"], kind=fields["kind"],
                     occurred_at=fields["occurred_at"], received_at=now, duration_s=fields["duration_s"],
                     grid_id=device.grid_id, payload=fields["payload"] or None)
    session.add(ev)
    was_online = device.online
    device.online, device.last_seen_at = fields["kind"] != "device_offline", now
    if device.online != was_online:
        events.record(session, "device", {"device_id": device.device_id, "online": device.online,
                                          "grid_id": device.grid_id, "at": iso(now)}, community_id=device.community_id)
    alert, created = None, False
    rule = alert_rule(fields["kind"], fields["occurred_at"], fields["duration_s"], fields["event_id"])
    if rule is not None:
        severity, suffix = rule
        place = session.get(Place, device.place_id) if device.place_id else None
        where = place.name if place is not None else device.name
        grid = session.get(Grid, device.grid_id) if device.grid_id else None
        dedupe = f"device:{device.device_id}:{suffix}"
        params: dict[str, Any] = {"place": where, "event_key": f"alert.device.{fields['kind']}", "device": device.name,
                                  "grid": grid.name if grid is not None else "—"}
        if fields["duration_s"]:
            params["minutes"] = round(fields["duration_s"] / 60)
        # one open alert per device and kind: the door held open again before anyone closed the first alert
        # repeats it (count, last time) instead of stacking cards on the wall
        alert, created = raise_alert(
            session, source="device", kind=fields["kind"], severity=severity,
            text_key="alert.text.device_long" if fields["duration_s"] else "alert.text.device", text_params=params,
            lat=device.lat, lon=device.lon, grid_id=device.grid_id, community_id=device.community_id,
            dedupe_key=dedupe, subject=f"device:{device.device_id}"[:64], now=now,
            data={"device_id": device.device_id, "event_id": fields["event_id"],
                  "place_id": device.place_id, "duration_s": fields["duration_s"]})
        ev.alert_id = alert.id
    session.flush()
    return Received(ev, device, alert, created)


def device_public(d: AccessDevice) -> dict[str, Any]:
    """A device as screens see it: never its secret."""
    return {"id": d.id, "device_id": d.device_id, "name": d.name, "kind": d.kind, "place_id": d.place_id,
            "grid_id": d.grid_id, "community_id": d.community_id, "lat": d.lat, "lon": d.lon,
            "online": d.online, "last_seen_at": iso(d.last_seen_at)}


def device_secrets(session: Session) -> list[tuple[str, str]]:
    """(device_id, secret) of every active device: for the one-time display after ``seed-demo``, never a screen."""
    return [(r[0], r[1]) for r in session.execute(select(AccessDevice.device_id, AccessDevice.secret)
                                              .where(AccessDevice.active.is_(True)).order_by(AccessDevice.device_id))]
