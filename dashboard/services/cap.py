"""OASIS CAP 1.2 alerts in (PROTOCOLS.md Part C): safe parse, idempotent ingest, Update/Cancel, grids hit.

Parsing goes through defusedxml with DTDs forbidden, so entity expansion ("billion laughs")
and external entities are refused before anything is read. The unique key of a message is
(sender, identifier, sent) as written in the document — the same triple ``references``
uses. Only ``Actual`` alerts reach the wall; Exercise/Test/System/Draft go to the separate
``exercise`` channel. An alert clears itself at ``expires`` (``expire_alerts``, run by the rules
scheduler). Severity follows GB/T 35965.1: red/orange/yellow/blue = Extreme/Severe/Moderate/Minor.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from shapely.geometry import Polygon, mapping
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Alert, AlertState, CapSender, Community, Grid, Street
from ..timeutil import as_utc, utcnow
from .alerts import raise_alert, resolve

NS = "urn:oasis:names:tc:emergency:cap:1.2"
STATUS = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPES = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPES = {"Public", "Restricted", "Private"}
CATEGORIES = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
              "CBRNE", "Other"}
SEVERITY = {"Extreme": "extreme", "Severe": "severe", "Moderate": "moderate", "Minor": "minor",
            "Unknown": "minor"}
COLOUR = {"extreme": "red", "severe": "orange", "moderate": "yellow", "minor": "blue"}
COLOUR_WORDS = {"红色": "extreme", "橙色": "severe", "黄色": "moderate", "蓝色": "minor"}
MAX_BYTES = 512 * 1024
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$")


class CapError(ValueError):
    """A CAP document that is malformed, hostile or incomplete (HTTP 400); ``field`` names the element."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class CapMessage:
    """The parts of a CAP 1.2 <alert> this center uses."""

    identifier: str
    sender: str
    sent_raw: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[tuple[str, str, str]] = field(default_factory=list)
    event: str = ""
    categories: list[str] = field(default_factory=list)
    severity: str = "minor"
    urgency: str = ""
    certainty: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    expires: datetime | None = None
    area_desc: str = ""
    geometry: Any = None  # shapely geometry in lon/lat, or None
    geocodes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return cap_key(self.sender, self.identifier, self.sent_raw)


def cap_key(sender: str, identifier: str, sent: str) -> str:
    """The dedupe key of a CAP message: its (sender, identifier, sent) triple."""
    return f"cap:{sender},{identifier},{sent}"


def _t(el, name: str) -> str:
    child = el.find(f"{{{NS}}}{name}")
    return (child.text or "").strip() if child is not None else ""


def _req(el, name: str) -> str:
    v = _t(el, name)
    if not v:
        raise CapError(name, f"<{name}> is required")
    return v


def _time(raw: str, name: str) -> datetime:
    if not _TIME.match(raw):
        raise CapError(name, f"<{name}> must look like 2026-11-28T09:30:00+08:00, got {raw[:40]!r}")
    try:
        return as_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        raise CapError(name, f"<{name}> is not a valid time: {raw[:40]!r}")


def _pairs(text: str, name: str) -> list[tuple[float, float]]:
    out = []
    for tok in text.split():
        try:
            lat_s, lon_s = tok.split(",")
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            raise CapError(name, f"<{name}> needs 'lat,lon' pairs, got {tok[:40]!r}")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (math.isfinite(lat) and math.isfinite(lon)):
            raise CapError(name, f"<{name}> point out of range: {tok[:40]!r}")
        out.append((lat, lon))
    return out


def polygon_from_cap(text: str) -> Polygon:
    """A CAP polygon (space-separated lat,lon pairs, closed, ≥ 4 pairs) as a shapely lon/lat Polygon."""
    pts = _pairs(text, "polygon")
    if len(pts) < 4:
        raise CapError("polygon", "<polygon> needs at least 4 lat,lon pairs")
    if pts[0] != pts[-1]:
        raise CapError("polygon", "<polygon> must be closed (first pair = last pair)")
    poly = Polygon([(lon, lat) for lat, lon in pts])
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


def circle_from_cap(text: str, segments: int = 64) -> Polygon:
    """A CAP circle ('lat,lon radius_km') as a polygon on the sphere."""
    parts = text.split()
    if len(parts) != 2:
        raise CapError("circle", "<circle> must be 'lat,lon radius_km'")
    [(lat, lon)] = _pairs(parts[0], "circle")
    try:
        r_km = float(parts[1])
    except ValueError:
        raise CapError("circle", f"<circle> radius must be a number of km, got {parts[1][:20]!r}")
    if not (0 <= r_km <= 5000):
        raise CapError("circle", "<circle> radius must be between 0 and 5000 km")
    r = max(r_km, 0.001) * 1000.0 / 6371008.8
    p1, l1 = math.radians(lat), math.radians(lon)
    ring = []
    for i in range(segments):
        b = 2 * math.pi * i / segments
        p2 = math.asin(math.sin(p1) * math.cos(r) + math.cos(p1) * math.sin(r) * math.cos(b))
        l2 = l1 + math.atan2(math.sin(b) * math.sin(r) * math.cos(p1), math.cos(r) - math.sin(p1) * math.sin(p2))
        ring.append((math.degrees(l2), math.degrees(p2)))
    return Polygon(ring)


def parse_cap(data: bytes | str) -> CapMessage:
    """Parse and check one CAP 1.2 document; anything malformed or hostile raises CapError."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        raise CapError("body", "empty body; send a CAP 1.2 XML document")
    if len(data) > MAX_BYTES:
        raise CapError("body", f"CAP document larger than {MAX_BYTES // 1024} KiB")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise CapError("body", f"refused: {type(e).__name__} (DTDs and entities are not accepted)")
    except ParseError as e:
        raise CapError("body", f"malformed XML: {e}")
    if root.tag != f"{{{NS}}}alert":
        raise CapError("alert", f"root must be <alert> in namespace {NS}")
    status, msg_type, scope = _req(root, "status"), _req(root, "msgType"), _req(root, "scope")
    for name, v, allowed in (("status", status, STATUS), ("msgType", msg_type, MSG_TYPES), ("scope", scope, SCOPES)):
        if v not in allowed:
            raise CapError(name, f"<{name}> must be one of {', '.join(sorted(allowed))}, got {v[:30]!r}")
    if scope == "Restricted" and not _t(root, "restriction"):
        raise CapError("restriction", "<restriction> is required when scope is Restricted")
    if scope == "Private" and not _t(root, "addresses"):
        raise CapError("addresses", "<addresses> is required when scope is Private")
    sent_raw = _req(root, "sent")
    msg = CapMessage(identifier=_req(root, "identifier"), sender=_req(root, "sender"), sent_raw=sent_raw,
                     sent=_time(sent_raw, "sent"), status=status, msg_type=msg_type, scope=scope)
    for name, v in (("identifier", msg.identifier), ("sender", msg.sender)):
        if len(v) > 100 or any(c in v for c in " ,<&"):
            raise CapError(name, f"<{name}> must be at most 100 characters without spaces, commas, < or &")
    for triple in _t(root, "references").split():
        parts = triple.split(",")
        if len(parts) != 3:
            raise CapError("references", f"<references> needs sender,identifier,sent triples, got {triple[:60]!r}")
        msg.references.append((parts[0], parts[1], parts[2]))
    if msg_type in ("Update", "Cancel") and not msg.references:
        raise CapError("references", f"a {msg_type} must name the alerts it changes in <references>")
    infos = root.findall(f"{{{NS}}}info")
    if infos:
        info = next((i for i in infos if _t(i, "language").lower().startswith("zh")), infos[0])
        _read_info(info, msg)
    return msg


def _read_info(info, msg: CapMessage) -> None:
    cats = [(c.text or "").strip() for c in info.findall(f"{{{NS}}}category")]
    if not cats:
        raise CapError("category", "<info> needs at least one <category>")
    bad = [c for c in cats if c not in CATEGORIES]
    if bad:
        raise CapError("category", f"unknown <category> {bad[0][:20]!r}")
    msg.categories, msg.event = cats, _req(info, "event")
    msg.urgency, msg.certainty = _req(info, "urgency"), _req(info, "certainty")
    sev = _req(info, "severity")
    if sev not in SEVERITY:
        raise CapError("severity", f"<severity> must be one of {', '.join(SEVERITY)}, got {sev[:20]!r}")
    msg.severity = SEVERITY[sev]
    msg.headline, msg.description = _t(info, "headline")[:256], _t(info, "description")[:4000]
    msg.instruction = _t(info, "instruction")[:4000]
    if sev == "Unknown":  # the national profile names the colour in the text
        for word, level in COLOUR_WORDS.items():
            if word in msg.headline or word in msg.event:
                msg.severity = level
                break
    if raw := _t(info, "expires"):
        msg.expires = _time(raw, "expires")
    shapes, descs = [], []
    for area in info.findall(f"{{{NS}}}area"):
        descs.append(_t(area, "areaDesc"))
        shapes += [polygon_from_cap((p.text or "").strip()) for p in area.findall(f"{{{NS}}}polygon")]
        shapes += [circle_from_cap((c.text or "").strip()) for c in area.findall(f"{{{NS}}}circle")]
        for g in area.findall(f"{{{NS}}}geocode"):
            msg.geocodes.append((_t(g, "valueName"), _t(g, "value")))
    msg.area_desc = "；".join(d for d in descs if d)[:500]
    msg.geometry = unary_union(shapes) if shapes else None


def grids_hit(session: Session, msg: CapMessage, polygons, ids) -> list[int]:
    """Grid ids the message's area touches: its polygons/circles, else geocodes naming grids/communities."""
    if msg.geometry is not None and len(ids):
        tree = shapely.STRtree(polygons)
        return sorted(int(ids[i]) for i in tree.query(msg.geometry, predicate="intersects"))
    values = [v for _, v in msg.geocodes if v]
    if not values:
        return []
    hit = set(session.scalars(select(Grid.id).where(Grid.code.in_(values))))
    hit |= set(session.scalars(select(Grid.id).join(Community).where(Community.code.in_(values))))
    if session.scalar(select(Street.id).where(Street.code.in_(values))) is not None:
        hit |= set(session.scalars(select(Grid.id)))
    return sorted(hit)


class CapRefused(CapError):
    """A well-formed CAP message its caller may not send (HTTP 403): another caller's sender, or references to
    another sender's alerts."""


def claim_sender(session: Session, sender: str, owner: str, now: datetime | None = None) -> None:
    """Bind ``sender`` to ``owner`` on its first use; refuse (CapRefused on ``sender``) another owner's sender."""
    row = session.get(CapSender, sender)
    if row is None:
        session.add(CapSender(sender=sender, owner=owner[:32], created_at=now or utcnow()))
        session.flush()
    elif row.owner != owner:
        raise CapRefused("sender", f"sender {sender[:100]!r} belongs to another caller; send under your own sender")


def ingest_cap(session: Session, data: bytes | str, *, polygons=(), ids=(), now: datetime | None = None,
               by: str = "CAP", owner: str | None = None, community_id: int | None = None) -> tuple[Alert, bool]:
    """Store one CAP message as an alert; a repeat (same sender, identifier, sent) returns the first, unchanged.

    ``owner`` (the caller, e.g. ``key:7``) must own the message's sender (the first caller to use a sender owns
    it), and ``references`` may name only that sender's alerts — an Update or Cancel cannot touch another feed's
    alert. ``community_id`` (a community-bound caller) is the community of an alert whose area names no grid."""
    now = now or utcnow()
    msg = parse_cap(data)
    if owner is not None:
        claim_sender(session, msg.sender, owner, now)
        foreign = [r for r in msg.references if r[0] != msg.sender]
        if foreign:
            raise CapRefused("references", f"references name another sender's alert ({','.join(foreign[0])[:160]});"
                                           " only a message's own sender may update or cancel it")
    existing = session.scalar(select(Alert).where(Alert.dedupe_key == msg.key))
    if existing is not None:
        return existing, False
    superseded = []
    for ref in msg.references:
        old = session.scalar(select(Alert).where(Alert.dedupe_key == cap_key(*ref)))
        if old is not None:
            superseded.append(old)
    grid_ids = grids_hit(session, msg, polygons, ids)
    comms = set(session.scalars(select(Grid.community_id).where(Grid.id.in_(grid_ids)))) if grid_ids else set()
    if community_id is not None and not comms:  # no grid named: a community feed's alert stays in its community
        comms = {community_id}
    channel = "actual" if msg.status == "Actual" else "exercise"
    title = msg.headline or msg.event or f"CAP {msg.msg_type} {msg.identifier}"
    if msg.msg_type == "Cancel":
        title = f"撤销：{title}"
    centre = msg.geometry.centroid if msg.geometry is not None and not msg.geometry.is_empty else None
    a, _ = raise_alert(
        session, source="cap", kind=f"cap_{msg.msg_type.lower()}", title=title, severity=msg.severity,
        description="\n".join(x for x in (msg.description, msg.instruction) if x),
        lat=centre.y if centre is not None else None, lon=centre.x if centre is not None else None,
        grid_id=grid_ids[0] if len(grid_ids) == 1 else None, grid_ids=grid_ids,
        community_id=comms.pop() if len(comms) == 1 else None,
        area=mapping(msg.geometry) if msg.geometry is not None else None, dedupe_key=msg.key, channel=channel,
        expires_at=msg.expires, now=now,
        data={"cap": {"identifier": msg.identifier, "sender": msg.sender, "sent": msg.sent_raw,
                      "status": msg.status, "msgType": msg.msg_type, "scope": msg.scope, "event": msg.event,
                      "categories": msg.categories, "urgency": msg.urgency, "certainty": msg.certainty,
                      "colour": COLOUR[msg.severity], "areaDesc": msg.area_desc, "geocodes": msg.geocodes,
                      "references": [",".join(r) for r in msg.references],
                      "closes": [o.id for o in superseded if o.state != AlertState.RESOLVED],
                      "area_kind": "polygon/circle" if msg.geometry is not None else
                      ("geocode" if msg.geocodes else "none")}})
    for old in superseded:
        if old.state != AlertState.RESOLVED:
            resolve(session, old, by=by, now=now,
                    comment=f"{'cancelled' if msg.msg_type == 'Cancel' else 'superseded'} by {msg.identifier}")
    if msg.msg_type in ("Cancel", "Ack", "Error") or (msg.expires is not None and msg.expires <= now):
        # a cancel, acknowledgement or error notice is a record, not something to act on
        resolve(session, a, by=by, now=now, comment=f"CAP {msg.msg_type}" + (
            " (already expired)" if msg.expires is not None and msg.expires <= now else ""))
    return a, True


def expire_alerts(session: Session, *, now: datetime | None = None) -> int:
    """Resolve every open alert whose ``expires`` has passed."""
    now = now or utcnow()
    rows = session.scalars(select(Alert).where(Alert.expires_at.is_not(None), Alert.expires_at <= now,
                                               Alert.state != AlertState.RESOLVED)).all()
    for a in rows:
        resolve(session, a, by="CAP", comment="expired", now=now)
    return len(rows)
