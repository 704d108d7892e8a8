"""Alerts: raise (idempotent on a dedupe key), acknowledge, resolve."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import events
from ..masking import mask_name, mask_text
from ..models import Alert, AlertState, Worker
from ..timeutil import iso, utcnow
from .name_index import known_names


# GB/T 35965.1 warning colours
COLOUR = {"extreme": "red", "severe": "orange", "moderate": "yellow", "minor": "blue"}


class AlertError(ValueError):
    """An alert action that its state does not allow (HTTP 409)."""


def alert_public(a: Alert, worker_name: str | None = None) -> dict[str, Any]:
    """What screens may see of an alert (names masked; titles, texts and comments too: CAP feeds and
    operators write free text)."""
    own, known = [worker_name], known_names(a)
    return {
        "id": a.id, "source": a.source, "kind": a.kind, "severity": a.severity,
        "title": mask_text(a.title, own, known), "description": mask_text(a.description, own, known),
        "lat": a.lat, "lon": a.lon, "grid_id": a.grid_id,
        "grid_ids": a.grid_ids or [], "community_id": a.community_id, "case_id": a.case_id,
        "worker_id": a.worker_id, "worker_name": mask_name(worker_name), "state": a.state,
        "channel": a.channel, "created_at": iso(a.created_at), "expires_at": iso(a.expires_at),
        "acknowledged_at": iso(a.acknowledged_at), "acknowledged_by": known.mask(a.acknowledged_by),
        "ack_comment": mask_text(a.ack_comment, own, known), "resolved_at": iso(a.resolved_at),
        "resolved_by": known.mask(a.resolved_by), "area": a.area, "colour": COLOUR.get(a.severity, "blue"),
        "resolve_comment": mask_text(a.resolve_comment, own, known),
        "data": a.data or {},
    }


def _emit(session: Session, a: Alert, action: str) -> None:
    name = session.get(Worker, a.worker_id).name if a.worker_id else None
    events.record(session, "alert", {"action": action, "alert": alert_public(a, name)},
                  community_id=a.community_id)


def raise_alert(session: Session, *, source: str, kind: str, title: str, severity: str = "moderate",
                description: str = "", lat: float | None = None, lon: float | None = None,
                grid_id: int | None = None, community_id: int | None = None, grid_ids: list[int] | None = None,
                case_id: int | None = None, worker_id: int | None = None, area: dict | None = None,
                dedupe_key: str | None = None, channel: str = "actual", expires_at: datetime | None = None,
                data: dict | None = None, now: datetime | None = None) -> tuple[Alert, bool]:
    """Create an alert unless one with the same dedupe key exists; returns (alert, created)."""
    if dedupe_key:
        existing = session.scalar(select(Alert).where(Alert.dedupe_key == dedupe_key))
        if existing is not None:
            return existing, False
    a = Alert(source=source, kind=kind, title=title, severity=severity, description=description, lat=lat,
              lon=lon, grid_id=grid_id, community_id=community_id, grid_ids=grid_ids or ([grid_id] if grid_id else []),
              case_id=case_id, worker_id=worker_id, area=area, dedupe_key=dedupe_key, channel=channel,
              expires_at=expires_at, data=data, created_at=now or utcnow())
    session.add(a)
    session.flush()
    _emit(session, a, "created")
    return a, True


def acknowledge(session: Session, alert: Alert, *, by: str, comment: str = "", now: datetime | None = None) -> Alert:
    """new → acknowledged, with who and a comment."""
    if alert.state != AlertState.NEW:
        raise AlertError(f"alert {alert.id} is {alert.state}, only a new alert can be acknowledged")
    alert.state, alert.acknowledged_at = AlertState.ACKNOWLEDGED, now or utcnow()
    alert.acknowledged_by, alert.ack_comment = by, comment
    _emit(session, alert, "acknowledged")
    return alert


def resolve(session: Session, alert: Alert, *, by: str, comment: str = "", now: datetime | None = None) -> Alert:
    """new/acknowledged → resolved."""
    if alert.state == AlertState.RESOLVED:
        raise AlertError(f"alert {alert.id} is already resolved")
    alert.state, alert.resolved_at = AlertState.RESOLVED, now or utcnow()
    alert.resolved_by, alert.resolve_comment = by, comment
    _emit(session, alert, "resolved")
    return alert
