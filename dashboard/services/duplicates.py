"""Duplicate reports: same category within 50 m and 24 h, and merging them into one case."""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..geo.distance import haversine_m
from ..masking import mask_text
from ..models import Case, CaseState
from ..timeutil import iso, utcnow
from .cases import CaseError, IllegalTransition, _cancel_open_dispatches, _emit, _log
from .name_index import known_names

RADIUS_M = 50.0
WINDOW = timedelta(hours=24)


def find_duplicates(session: Session, c: Case, *, radius_m: float = RADIUS_M, window: timedelta = WINDOW,
                    community_id: int | None = None) -> list[dict[str, Any]]:
    """Other cases of the same category within ``radius_m`` and ``window`` of this one (not void or merged).

    ``community_id`` keeps only that community's cases: a report 10 m across the border is still
    another community's case, which its operator may neither read nor merge.
    """
    if c.lat is None or c.lon is None:
        return []
    dlat = radius_m / 111_000.0
    dlon = radius_m / (111_000.0 * max(math.cos(math.radians(c.lat)), 0.01))
    q = select(Case).where(
        Case.id != c.id, Case.category_code == c.category_code, Case.state != CaseState.VOID,
        Case.merged_into_id.is_(None), Case.lat.between(c.lat - dlat, c.lat + dlat),
        Case.lon.between(c.lon - dlon, c.lon + dlon),
        Case.created_at.between(c.created_at - window, c.created_at + window))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    rows = session.scalars(q).all()
    known = known_names(session)
    out = []
    for o in rows:
        d = haversine_m(c.lat, c.lon, o.lat, o.lon)
        if d <= radius_m:
            out.append({"id": o.id, "code": o.code, "state": o.state, "distance_m": round(float(d), 1),
                        "created_at": iso(o.created_at),
                        "description": (mask_text(o.description, [o.reporter_name], known) or "")[:200]})
    return sorted(out, key=lambda r: r["distance_m"])


def merge_cases(session: Session, dup: Case, into: Case, *, actor: str, note: str = "",
                now: datetime | None = None) -> Case:
    """Fold ``dup`` into ``into``: the duplicate becomes void with a pointer, both timelines say so."""
    now = now or utcnow()
    if dup.id == into.id:
        raise CaseError("into", "a case cannot be merged into itself")
    if dup.state in (CaseState.CLOSED, CaseState.VOID) or dup.merged_into_id is not None:
        raise IllegalTransition(f"case {dup.code} is {dup.state}; only an open case can be merged")
    if into.state == CaseState.VOID or into.merged_into_id is not None:
        raise IllegalTransition(f"case {into.code} is void; merge into an open or closed case")
    frm = dup.state
    _cancel_open_dispatches(session, dup, now)
    dup.state, dup.merged_into_id, dup.updated_at = CaseState.VOID, into.id, now
    _log(dup, "merge", actor, note or f"合并至 {into.code}", frm, CaseState.VOID, now, {"into": into.id})
    _log(into, "merged", actor, note or f"合并 {dup.code}", into.state, into.state, now, {"from": dup.id})
    into.updated_at = now
    if dup.source == "resident":  # folding a resident's report into the case that handles it answers her
        from .residents import note_first_response

        note_first_response(session, dup, now)
    session.flush()
    _emit(session, dup, "merge")
    _emit(session, into, "merged")
    return into
