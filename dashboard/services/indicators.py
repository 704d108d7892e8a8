"""Closed-loop indicators (结案率, 按期结案率, 返工率, 自行处置率, handling time), computed in bulk.

Definitions, for a period ``[start, end)`` (aware datetimes; the API passes Asia/Shanghai days):

- **due (应结案数)**: cases that are not void and not merged, that were dispatched (they have an SLA
  deadline ``sla_due_at``), and either (a) whose deadline falls in the period,
  ``start <= sla_due_at < end``, or (b) that were closed in the period ahead of a deadline that lies
  after it, ``start <= closed_at < end <= sla_due_at`` (early closures count in the period they
  close in, so a rate never exceeds 1). Cases handled on the spot never get a deadline and are
  measured by 自行处置率 instead.
- **closed (结案数)**: due cases whose ``closed_at`` is before ``end``.
- **closed on time (按期结案数)**: closed cases with ``closed_at <= sla_due_at``.
- 结案率 = closed / due; 按期结案率 = closed on time / due.
- **checked / reworked (返工率)**: cases with at least one check (timeline action ``approve`` or
  ``reject``) in the period; reworked = those among them with at least one ``reject`` (failed check,
  sent back) in the period. 返工率 = reworked / checked.
- **reported / onsite (自行处置率)**: cases created in the period, void ones excluded; onsite = those
  closed on the spot by the reporting worker (``handled_onsite``). 自行处置率 = onsite / reported.
- **average handling time**: over cases closed (approved) in the period that were dispatched, the
  mean of ``closed_at - dispatched_at`` in clock hours and in working hours (the SLA calendar).

Attribution: grid / community / category by the case's own fields; street = everything; worker =
the worker the case is assigned to (for due/closed/checked/handling) and the reporting worker (for
reported/onsite). A rate whose denominator is 0 is ``None``, never 0.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, String, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..masking import mask_name
from ..models import Case, CaseLog, CaseState, Category, Community, Grid, Street, Worker
from ..timeutil import as_utc
from ..workcal import WorkCalendar

LEVELS = ("grid", "community", "street", "worker", "category")
COUNTS = ["due", "closed", "closed_on_time", "checked", "reworked", "reported", "onsite", "handled"]
RATES = {"closure_rate": ("closed", "due"), "on_time_rate": ("closed_on_time", "due"),
         "rework_rate": ("reworked", "checked"), "onsite_rate": ("onsite", "reported")}


def _raw_time(session: Session, col):
    """A timestamp column read without the per-value UTC decorator; pandas parses the whole column at once."""
    return type_coerce(col, String if session.get_bind().dialect.name == "sqlite" else DateTime)


def _case_frame(session: Session, start: datetime, end: datetime, community_id: int | None) -> pd.DataFrame:
    """Every case that can count in the period, one SQL query."""
    t = lambda c: _raw_time(session, c)  # noqa: E731
    q = select(Case.id, Case.grid_id, Case.community_id, Case.category_code, Case.assigned_worker_id,
               Case.reporter_worker_id, Case.state, Case.handled_onsite, t(Case.created_at), t(Case.dispatched_at),
               t(Case.sla_due_at), t(Case.closed_at)).where(
        Case.state != CaseState.VOID, Case.merged_into_id.is_(None),
        or_(Case.created_at.between(start, end), Case.sla_due_at.between(start, end),
            Case.closed_at.between(start, end)))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    cols = ["id", "grid_id", "community_id", "category_code", "assigned_worker_id", "reporter_worker_id",
            "state", "handled_onsite", "created_at", "dispatched_at", "sla_due_at", "closed_at"]
    df = pd.DataFrame([tuple(r) for r in session.execute(q)], columns=cols)  # plain tuples: Row probing is slow
    for c in ("created_at", "dispatched_at", "sla_due_at", "closed_at"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")  # stored as naive UTC
    return df


def _checks_frame(session: Session, start: datetime, end: datetime, community_id: int | None) -> pd.DataFrame:
    """Check results (approve/reject) in the period, with the case's attribution."""
    q = select(CaseLog.case_id, CaseLog.action, Case.grid_id, Case.community_id, Case.category_code,
               Case.assigned_worker_id).join(Case, Case.id == CaseLog.case_id).where(
        CaseLog.action.in_(("approve", "reject")), CaseLog.at >= start, CaseLog.at < end,
        Case.state != CaseState.VOID, Case.merged_into_id.is_(None))
    if community_id is not None:
        q = q.where(Case.community_id == community_id)
    return pd.DataFrame([tuple(r) for r in session.execute(q)],
                        columns=["case_id", "action", "grid_id", "community_id", "category_code",
                                 "assigned_worker_id"])


def case_measures(session: Session, *, start: datetime, end: datetime, calendar: WorkCalendar | None = None,
                  community_id: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-case flags for the period (due, closed, on time, reported, onsite, handling hours) and checks."""
    start, end = as_utc(start), as_utc(end)
    cal = calendar or WorkCalendar()
    df = _case_frame(session, start, end, community_id)
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    has_due = df["sla_due_at"].notna()
    due_in = has_due & (df["sla_due_at"] >= s) & (df["sla_due_at"] < e)
    closed_in = df["closed_at"].notna() & (df["closed_at"] >= s) & (df["closed_at"] < e)
    early = has_due & closed_in & (df["sla_due_at"] >= e)
    df["due"] = due_in | early
    df["closed"] = df["due"] & df["closed_at"].notna() & (df["closed_at"] < e) & (df["state"] == CaseState.CLOSED)
    df["closed_on_time"] = df["closed"] & (df["closed_at"] <= df["sla_due_at"])
    df["reported"] = (df["created_at"] >= s) & (df["created_at"] < e)
    df["onsite"] = df["reported"] & df["handled_onsite"].astype(bool)
    df["handled"] = closed_in & df["dispatched_at"].notna() & (df["state"] == CaseState.CLOSED)
    df["handling_hours"] = ((df["closed_at"] - df["dispatched_at"]).dt.total_seconds() / 3600.0).where(df["handled"])
    df["handling_work_hours"] = pd.Series(cal.working_hours_between_many(
        df["dispatched_at"].where(df["handled"]), df["closed_at"].where(df["handled"])), index=df.index)
    checks = _checks_frame(session, start, end, community_id)
    return df, checks


def _key_columns(level: str) -> tuple[str, str]:
    """(column for due/closed measures, column for reported/onsite measures)."""
    return {"grid": ("grid_id", "grid_id"), "community": ("community_id", "community_id"),
            "street": ("street", "street"), "category": ("category_code", "category_code"),
            "worker": ("assigned_worker_id", "reporter_worker_id")}[level]


def indicators_frame(session: Session, *, level: str, start: datetime, end: datetime,
                     calendar: WorkCalendar | None = None, community_id: int | None = None,
                     measures: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per grid/community/street/worker/category: counts, rates and average handling hours.

    ``measures``: the result of ``case_measures`` for the same period and scope, to aggregate one
    fetch at several levels (the briefing does).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if measures is not None:
        df, checks = measures[0].copy(), measures[1].copy()
    else:
        df, checks = case_measures(session, start=start, end=end, calendar=calendar, community_id=community_id)
    df["street"], checks["street"] = 0, 0
    k_assigned, k_reporter = _key_columns(level)
    parts = []
    if len(df):
        a = df.groupby(k_assigned, dropna=True).agg(
            due=("due", "sum"), closed=("closed", "sum"), closed_on_time=("closed_on_time", "sum"),
            handled=("handled", "sum"), avg_handling_hours=("handling_hours", "mean"),
            avg_handling_work_hours=("handling_work_hours", "mean"))
        r = df.groupby(k_reporter, dropna=True).agg(reported=("reported", "sum"), onsite=("onsite", "sum"))
        parts += [a, r]
    if len(checks):
        per_case = checks.assign(rej=checks["action"] == "reject").groupby(["case_id", k_assigned], dropna=True)[
            "rej"].any().reset_index()
        parts.append(per_case.groupby(k_assigned).agg(checked=("case_id", "nunique"), reworked=("rej", "sum")))
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame()
    for c in COUNTS:
        out[c] = out[c].fillna(0).astype(int) if c in out else 0
    for c in ("avg_handling_hours", "avg_handling_work_hours"):
        if c not in out:
            out[c] = float("nan")
    for name, (num, den) in RATES.items():
        out[name] = (out[num] / out[den].where(out[den] > 0)) if len(out) else []
    out.index.name = "key"
    return out.reset_index()


def _names(session: Session, level: str, keys: list) -> dict:
    keys = [k for k in keys if k is not None]
    if level == "grid":
        return {i: (c, n) for i, c, n in session.execute(select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(keys)))}
    if level == "community":
        return {i: (c, n) for i, c, n in session.execute(
            select(Community.id, Community.code, Community.name).where(Community.id.in_(keys)))}
    if level == "worker":
        return {i: (c, mask_name(n)) for i, c, n in session.execute(
            select(Worker.id, Worker.code, Worker.name).where(Worker.id.in_(keys)))}
    if level == "category":
        return {c: (c, f"{m}/{n}") for c, m, n in session.execute(
            select(Category.code, Category.major_name, Category.name).where(Category.code.in_(keys)))}
    st = session.execute(select(Street.code, Street.name).order_by(Street.id)).first()
    return {0: (st[0], st[1]) if st else ("", "")}


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return round(v, 4) if isinstance(v, float) else v


def compute_indicators(session: Session, *, level: str, start: datetime, end: datetime,
                       calendar: WorkCalendar | None = None, community_id: int | None = None,
                       measures: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[dict[str, Any]]:
    """Indicator rows as JSON-ready dicts with code and (masked) name, sorted by code."""
    frame = indicators_frame(session, level=level, start=start, end=end, calendar=calendar,
                             community_id=community_id, measures=measures)
    if level == "street" and frame.empty:
        frame = pd.DataFrame([{"key": 0, **{c: 0 for c in COUNTS}}])
        for r in RATES:
            frame[r] = None
        frame["avg_handling_hours"] = frame["avg_handling_work_hours"] = None
    names = _names(session, level, frame["key"].tolist()) if len(frame) else {}
    rows = []
    for rec in frame.to_dict("records"):
        code, name = names.get(rec["key"], (str(rec["key"]), ""))
        rows.append({"level": level, "key": _clean(rec["key"]), "code": code, "name": name,
                     **{k: _clean(v) for k, v in rec.items() if k != "key"}})
    return sorted(rows, key=lambda r: str(r["code"]))
