"""Residents' satisfaction (issue 31 item 4): how fast the center answers residents' reports, how many were closed
to their satisfaction, and how many went back as rework after a 不满意 — per grid, per community and for the street.

The cohort is the resident reports (``ResidentTicket``) made in ``[start, end)``; every figure is about those
reports, from stored timestamps, so a past period gives the same figures tomorrow (answers given later join their
report's period, as a hotline's monthly figures mature):

- **reports**: resident reports made in the period.
- **response time** (minutes): from the report to the center's first step — ``first_response_at``, or, where that
  was not stamped, the case's registration (立案) or first dispatch, whichever came first; reports nobody has
  answered yet are left out (counted in ``awaiting``). ``response_median_min`` is the median (the mean of the two
  middle values for an even count); ``response_p90_min`` the nearest-rank 90th percentile: the ⌈0.9 × n⌉-th
  smallest time. Both rounded to 0.1 min.
- **closed**: reports whose case was closed (核查结案) before ``end`` — the case it was merged into, for a report
  the center folded into another — or that the resident answered (a 不满意 reopens the case, which then no longer
  shows closed).
- **answered**: reports the resident rated before ``end``; ``answered_share`` = answered / closed.
- **satisfied_share** = (满意 + 基本满意) / answered — the share closed to the resident's satisfaction.
- **rework**: reports a 不满意 sent back to the check queue (``reworked``; once per report).

Shares are fractions (0.75), None when their denominator is zero.
"""
from __future__ import annotations

import math
import statistics
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..models import Case, CaseState, Community, Grid, ResidentTicket
from ..timeutil import as_utc, iso, local_day_bounds

ANSWERS = ("satisfied", "basic", "unsatisfied")
WINDOW_DAYS = 30  # the briefing's period: the 30 days ending with its day (a day alone holds a handful of answers)


def period_for_day(day: date, days: int = WINDOW_DAYS) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the ``days`` local days ending with ``day`` (Asia/Shanghai)."""
    return local_day_bounds(day - timedelta(days=days - 1))[0], local_day_bounds(day)[1]


def percentile_nearest_rank(values: list[float], q: float) -> float | None:
    """The ⌈q × n⌉-th smallest value (q in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _response_at(first: datetime | None, registered: datetime | None, dispatched: datetime | None) -> datetime | None:
    if first is not None:
        return as_utc(first)
    steps = [as_utc(t) for t in (registered, dispatched) if t is not None]
    return min(steps) if steps else None


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one set of ticket rows (as ``ticket_rows`` gives them)."""
    rows = list(rows)
    minutes = [r["response_min"] for r in rows if r["response_min"] is not None]
    counts = {a: sum(1 for r in rows if r["answer"] == a) for a in ANSWERS}
    answered = sum(counts.values())
    closed = sum(1 for r in rows if r["closed"] or r["answer"] is not None)
    median = statistics.median(minutes) if minutes else None
    p90 = percentile_nearest_rank(minutes, 0.9)
    return {"reports": len(rows), "responded": len(minutes), "awaiting": len(rows) - len(minutes),
            "response_median_min": None if median is None else round(median, 1),
            "response_p90_min": None if p90 is None else round(p90, 1),
            "closed": closed, "answered": answered, "answered_share": _share(answered, closed),
            "satisfied": counts["satisfied"], "basic": counts["basic"], "unsatisfied": counts["unsatisfied"],
            "satisfied_share": _share(counts["satisfied"] + counts["basic"], answered),
            "rework": sum(1 for r in rows if r["reworked"])}


def ticket_rows(session: Session, start: datetime, end: datetime, community_id: int | None = None) -> list[dict]:
    """One row per resident report made in ``[start, end)``: where, response minutes, closed, answer, reworked."""
    into = aliased(Case)  # a report the center folded into another case is closed when that case is
    q = (select(ResidentTicket.grid_id, ResidentTicket.community_id, ResidentTicket.created_at,
                ResidentTicket.first_response_at, ResidentTicket.satisfaction, ResidentTicket.satisfaction_at,
                ResidentTicket.reworked, Case.registered_at, Case.dispatched_at,
                func.coalesce(into.closed_at, Case.closed_at).label("closed_at"),
                func.coalesce(into.state, Case.state).label("state"),
                Case.grid_id.label("case_grid_id"), Case.community_id.label("case_community_id"))
         .join(Case, Case.id == ResidentTicket.case_id)
         .outerjoin(into, into.id == Case.merged_into_id)
         .where(ResidentTicket.created_at >= start, ResidentTicket.created_at < end))
    if community_id is not None:
        q = q.where(ResidentTicket.community_id == community_id)
    end_utc = as_utc(end)
    out = []
    for r in session.execute(q):
        created = as_utc(r.created_at)
        at = _response_at(r.first_response_at, r.registered_at, r.dispatched_at)
        answered = r.satisfaction in ANSWERS and (r.satisfaction_at is None or as_utc(r.satisfaction_at) < end_utc)
        out.append({"grid_id": r.grid_id if r.grid_id is not None else r.case_grid_id,
                    "community_id": r.community_id if r.community_id is not None else r.case_community_id,
                    "response_min": None if at is None else max(0.0, (at - created).total_seconds() / 60.0),
                    "closed": r.closed_at is not None and as_utc(r.closed_at) < end_utc
                    and r.state == CaseState.CLOSED,
                    "answer": r.satisfaction if answered else None, "reworked": bool(r.reworked)})
    return out


def figures(session: Session, *, start: datetime, end: datetime, community_id: int | None = None) -> dict[str, Any]:
    """Satisfaction figures for ``[start, end)``: the scope's total, every community in scope, the grids with
    reports (code order)."""
    rows = ticket_rows(session, start, end, community_id)
    cq = select(Community.id, Community.code, Community.name).order_by(Community.code)
    if community_id is not None:
        cq = cq.where(Community.id == community_id)
    communities = [{"id": cid, "code": code, "name": name,
                    **summarise(r for r in rows if r["community_id"] == cid)} for cid, code, name in session.execute(cq)]
    gids = {r["grid_id"] for r in rows if r["grid_id"] is not None}
    grids = session.execute(select(Grid.id, Grid.code, Grid.name, Grid.community_id).where(Grid.id.in_(gids))
                            .order_by(Grid.code)).all() if gids else []
    return {"start": iso(start), "end": iso(end), "community_id": community_id, "total": summarise(rows),
            "communities": communities,
            "grids": [{"id": g.id, "code": g.code, "name": g.name, "community_id": g.community_id,
                       **summarise(r for r in rows if r["grid_id"] == g.id)} for g in grids]}


def for_day(session: Session, day: date, community_id: int | None = None, days: int = WINDOW_DAYS) -> dict[str, Any]:
    """The figures of the ``days`` days ending with ``day`` (the briefing's satisfaction section)."""
    start, end = period_for_day(day, days)
    return {**figures(session, start=start, end=end, community_id=community_id), "days": days,
            "first_day": (day - timedelta(days=days - 1)).isoformat(), "last_day": day.isoformat()}
