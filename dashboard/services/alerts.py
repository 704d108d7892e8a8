"""Alerts: raise (idempotent on a dedupe key; one open alert per rule and subject, a repeat updates it),
acknowledge, resolve; texts rendered from i18n templates in the screen's language."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..i18n import LANGS, DEFAULT_LANG, normalise_lang, place_name, t
from ..masking import mask_name, mask_text
from ..models import Alert, AlertState, Worker
from ..timeutil import iso, utcnow
from .name_index import known_names


# GB/T 35965.1 warning colours
COLOUR = {"extreme": "red", "severe": "orange", "moderate": "yellow", "minor": "blue"}


class AlertError(ValueError):
    """An alert action that its state does not allow (HTTP 409)."""


LIST_SHOWN = 6
NAME_PARAMS = frozenset({"grid", "community", "place", "category"})


class _Keep(dict):
    def __missing__(self, key: str) -> str:  # a template naming a parameter the alert lacks shows it, not a 500
        return "{" + key + "}"


def render_text(key: str, params: dict[str, Any] | None, lang: str | None = None) -> tuple[str, str]:
    """(title, detail) of an alert text template ``key`` in ``lang``. A parameter named ``x_key`` is itself a
    catalogue key, rendered into ``x`` (an alarm's or device event's name, a window's unit)."""
    p = _Keep()
    for k, v in (params or {}).items():
        if k.endswith("_key") and isinstance(v, str):
            p[k[:-4]] = t(v, lang)
        elif isinstance(v, list):  # names or codes: the first few, and how many more
            shown = [place_name(x, lang) if isinstance(x, str) else str(x) for x in v[:LIST_SHOWN]]
            sep = "、" if normalise_lang(lang) == DEFAULT_LANG else ", "
            p[k] = sep.join(x or "" for x in shown) + (t("alert.list.more", lang).format(n=len(v)) if
                                                       len(v) > LIST_SHOWN else "")
        elif isinstance(v, str) and k in NAME_PARAMS:
            p[k] = place_name(v, lang)  # a grid, community, place or category in the screen's language
        else:
            p[k] = v
    return (t(f"{key}.title", lang).format_map(p)[:256], t(f"{key}.detail", lang).format_map(p))


def alert_public(a: Alert, worker_name: str | None = None, lang: str | None = None) -> dict[str, Any]:
    """What screens may see of an alert (names masked; titles, texts and comments too: CAP feeds and
    operators write free text). A rule's alert carries its text in every language (``texts``; pushed events
    go to screens of either language) and ``title``/``description`` in ``lang``."""
    own, known = [worker_name], known_names(a)
    texts = {}
    if a.text_key:
        for lg in LANGS:
            title, detail = render_text(a.text_key, a.text_params, lg)
            texts[lg] = {"title": mask_text(title, own, known), "description": mask_text(detail, own, known)}
    mine = texts.get(normalise_lang(lang)) or {"title": mask_text(a.title, own, known),
                                               "description": mask_text(a.description, own, known)}
    return {
        "id": a.id, "source": a.source, "kind": a.kind, "severity": a.severity,
        "title": mine["title"], "description": mine["description"], "texts": texts,
        "subject": a.subject, "count": a.repeat_count or 1, "last_at": iso(a.last_at or a.created_at),
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


def raise_alert(session: Session, *, source: str, kind: str, title: str = "", severity: str = "moderate",
                description: str = "", lat: float | None = None, lon: float | None = None,
                grid_id: int | None = None, community_id: int | None = None, grid_ids: list[int] | None = None,
                case_id: int | None = None, worker_id: int | None = None, area: dict | None = None,
                dedupe_key: str | None = None, channel: str = "actual", expires_at: datetime | None = None,
                data: dict | None = None, now: datetime | None = None, subject: str | None = None,
                text_key: str | None = None, text_params: dict | None = None) -> tuple[Alert, bool]:
    """Create an alert unless one with the same dedupe key exists, or an open one of the same kind and
    ``subject`` (then that one is updated: see upsert_alert); returns (alert, created)."""
    a, outcome = upsert_alert(session, source=source, kind=kind, title=title, severity=severity,
                              description=description, lat=lat, lon=lon, grid_id=grid_id, community_id=community_id,
                              grid_ids=grid_ids, case_id=case_id, worker_id=worker_id, area=area,
                              dedupe_key=dedupe_key, channel=channel, expires_at=expires_at, data=data, now=now,
                              subject=subject, text_key=text_key, text_params=text_params)
    return a, outcome == "created"


def open_for_subject(session: Session, kind: str, subject: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.kind == kind, Alert.subject == subject,
                                              Alert.state != AlertState.RESOLVED))


def upsert_alert(session: Session, *, source: str, kind: str, title: str = "", severity: str = "moderate",
                 description: str = "", lat: float | None = None, lon: float | None = None,
                 grid_id: int | None = None, community_id: int | None = None, grid_ids: list[int] | None = None,
                 case_id: int | None = None, worker_id: int | None = None, area: dict | None = None,
                 dedupe_key: str | None = None, channel: str = "actual", expires_at: datetime | None = None,
                 data: dict | None = None, now: datetime | None = None, subject: str | None = None,
                 text_key: str | None = None, text_params: dict | None = None,
                 fresh: bool = False) -> tuple[Alert, str]:
    """Raise an alert, or repeat an open one: returns (alert, "created" | "updated" | "unchanged").

    With a ``dedupe_key`` an alert that ever had the key is returned unchanged. With a ``subject`` (what a rule
    alert is about: ``grid:12``, ``community:3``, ``case:7`` …) there is at most one open alert per kind and
    subject: a repeat (another occurrence) updates the open alert in place — repeat_count + 1, last_at,
    severity, texts — and is pushed as "updated" (a rule pass that finds nothing new skips the call:
    services.rules.apply). The partial unique index ux_alert_open_subject holds this under concurrency: an insert
    that loses the race rolls back its savepoint and updates the winner's alert instead. ``fresh``: the caller looked
    up the key and the subject in bulk and found neither (the two queries are skipped; the index still holds)."""
    now = now or utcnow()
    if text_key:
        title, description = render_text(text_key, text_params, DEFAULT_LANG)
    if dedupe_key and not fresh:
        existing = session.scalar(select(Alert).where(Alert.dedupe_key == dedupe_key))
        if existing is not None:
            return existing, "unchanged"
    fields = dict(severity=severity, title=title[:256], description=description, text_params=text_params,
                  data=data, grid_ids=grid_ids or ([grid_id] if grid_id else []), lat=lat, lon=lon)
    if subject and not fresh:
        existing = open_for_subject(session, kind, subject)
        if existing is not None:
            return existing, _repeat(session, existing, fields, now)
    a = Alert(source=source, kind=kind, lat=lat, lon=lon, grid_id=grid_id, community_id=community_id,
              case_id=case_id, worker_id=worker_id, area=area, dedupe_key=dedupe_key, channel=channel,
              expires_at=expires_at, created_at=now, last_at=now, subject=subject, repeat_count=1,
              text_key=text_key, **{k: v for k, v in fields.items() if k not in ("lat", "lon")})
    if subject:
        try:
            with session.begin_nested():
                session.add(a)
                session.flush()
        except IntegrityError:  # another transaction opened this subject's alert first: repeat that one
            existing = open_for_subject(session, kind, subject)
            if existing is None:
                raise
            return existing, _repeat(session, existing, fields, now)
    else:
        session.add(a)
        session.flush()
    _emit(session, a, "created")
    return a, "created"


def _repeat(session: Session, a: Alert, fields: dict[str, Any], now: datetime) -> str:
    """Another occurrence (a door forced again, SOS pressed again, a spike grown): counted and pushed. (A rule
    pass that finds nothing new does not call this: services.rules.apply skips alerts it would not change.)"""
    for k, v in fields.items():
        if v is not None:
            setattr(a, k, v)
    a.repeat_count, a.last_at = (a.repeat_count or 1) + 1, now
    session.flush()
    _emit(session, a, "updated")
    return "updated"


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
