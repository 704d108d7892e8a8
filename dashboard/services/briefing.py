"""The leader's daily situation: every figure of /briefing for one day and scope, in bulk.

A day is a calendar day in Asia/Shanghai, ``[start, end)``; the scope is the street or one
community. Figures (all reproducible for a past day — they use the stored timestamps, not
the current state):

- **KPIs** for the day, the day before and the same weekday a week earlier:
  reported / handled on the spot / 结案率 / 按期结案率 / 自行处置率 / average handling time come
  from ``services.indicators`` (its definitions: void and merged cases never count);
  escalated = reported − handled on the spot; closed = cases whose ``closed_at`` falls in the
  day (on the spot or through the loop); overdue = cases with an SLA deadline before the
  day's cut-off (its end, or now for today) that were not closed by then.
- **by category**: cases reported in the day per major class (大类).
- **hourly**: reported and closed per local hour; yesterday's reported for comparison.
- **funnel**: of the cases reported in the day, as of the day's end: reported → escalated →
  dispatched → feedback given → closed through the loop (plus handled on the spot).
- **communities**: 结案率 / 按期结案率 per community (indicators, level community).
- **hot grids**: the ten grids with most cases reported in the day (ties by grid code).
- **overdue list**: the overdue cases, most overdue first (assigned worker's name masked).
- **workers**: workers in scope, active ones (any fix or report that day), fixes, reports,
  foot patrols, kilometres walked (from the day's fixes, jitter filtered, kept in the ``position_day`` rollup:
  ``services.position_day``), per worker and the ten grids walked most; the most active ten (masked).
- **coverage**: grids visited on foot (a fix in the grid that day, or a foot patrol started
  that day covering it) and by mouse (a mouse patrol started that day covering it, or a
  mouse-patrol stop logged that day); the grids nobody visited either way.
- **alerts**: alerts (channel actual) raised in the day, most severe first.
- **satisfaction**: residents' reports of the 30 days ending with the day — response time, share closed to their
  satisfaction, rework from 不满意 — per community (``services.satisfaction``, its definitions).
- **visits**: the day's visits (走访) by workers: households, places, promised follow-ups, those made cases.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import String, and_, func, or_, select, type_coerce, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from ..masking import mask_name, mask_text
from ..models import (Alert, Case, CaseState, Category, Community, Grid, Patrol, PatrolStopLog, PositionDay,
                      Street, Worker)
from ..timeutil import SHANGHAI, iso, local_day_bounds, utcnow
from ..workcal import WorkCalendar
from .indicators import case_measures, compute_indicators
from .name_index import known_names
from .position_day import day_rollup
from .satisfaction import for_day as satisfaction_for_day
from .visits import day_counts as visit_counts

KPI_KEYS = ["reported", "onsite", "escalated", "closed", "overdue", "closure_rate", "on_time_rate",
            "onsite_rate", "avg_handling_hours", "avg_handling_work_hours"]
SEVERITY_ORDER = {"extreme": 0, "severe": 1, "moderate": 2, "minor": 3}
OVERDUE_LIST_MAX = 50
UNVISITED_LIST_MAX = 100


def _rows(session: Session, q) -> list[tuple]:
    """A query's rows as plain tuples: pandas probes SQLAlchemy Rows per row for fields, which is slow."""
    return [tuple(r) for r in session.execute(q)]


def _scope_grids(session: Session, community_id: int | None) -> pd.DataFrame:
    q = select(Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.centroid_lat, Grid.centroid_lon)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return pd.DataFrame(_rows(session, q.order_by(Grid.code)),
                        columns=["id", "code", "name", "community_id", "lat", "lon"])


def _ts(col) -> Any:
    """A timestamp column fetched as the driver gives it (naive UTC): pandas converts in bulk, not per row."""
    return type_coerce(col, String()).label(col.key)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _day_cases(session: Session, start: datetime, end: datetime, community_id: int | None) -> pd.DataFrame:
    """Cases reported or closed in the day (void and merged excluded), one query."""
    cols = [Case.id, Case.code, Case.grid_id, Case.community_id, Case.category_code, Case.state,
            Case.handled_onsite, _ts(Case.created_at), _ts(Case.dispatched_at), _ts(Case.feedback_at),
            _ts(Case.closed_at), Case.reporter_worker_id]
    base = [Case.state != CaseState.VOID, Case.merged_into_id.is_(None)]
    if community_id is not None:
        base.append(Case.community_id == community_id)
    # two index ranges (created_at, closed_at) instead of an OR the planner may scan for
    q = union_all(select(*cols).where(Case.created_at >= start, Case.created_at < end, *base),
                  select(*cols).where(Case.closed_at >= start, Case.closed_at < end, *base))
    df = pd.DataFrame(_rows(session, q), columns=[c.key for c in cols]).drop_duplicates("id")
    for c in ("created_at", "dispatched_at", "feedback_at", "closed_at"):
        df[c] = _utc(df[c])
    df["handled_onsite"] = df["handled_onsite"].astype(bool)
    return df


def _overdue_frame(session: Session, cuts: list[datetime], community_id: int | None) -> pd.DataFrame:
    """Every case overdue at one of ``cuts`` (deadline passed, not closed by then), one fetch for all cuts."""
    lo, hi = min(cuts), max(cuts)
    cols = [Case.id, _ts(Case.sla_due_at), _ts(Case.closed_at)]
    base = [Case.sla_due_at < hi, Case.state != CaseState.VOID, Case.merged_into_id.is_(None)]
    if community_id is not None:
        base.append(Case.community_id == community_id)
    q = union_all(select(*cols).where(Case.closed_at.is_(None), *base),  # the open tail (partial index)
                  select(*cols).where(Case.closed_at > lo, *base))
    df = pd.DataFrame(_rows(session, q), columns=["id", "sla_due_at", "closed_at"]).drop_duplicates("id")
    df["sla_due_at"], df["closed_at"] = _utc(df["sla_due_at"]), _utc(df["closed_at"])
    return df


def _overdue_base(hi: datetime, community_id: int | None) -> list:
    base = [Case.sla_due_at < hi, Case.state != CaseState.VOID, Case.merged_into_id.is_(None)]
    if community_id is not None:
        base.append(Case.community_id == community_id)
    return base


def overdue_counts(session: Session, cuts: list[datetime], community_id: int | None) -> dict[datetime, int]:
    """How many cases were overdue at each of ``cuts``, counted by the database in one query."""
    lo, hi = min(cuts), max(cuts)
    base = _overdue_base(hi, community_id)
    u = union_all(select(Case.sla_due_at, Case.closed_at).where(Case.closed_at.is_(None), *base),  # open tail
                  select(Case.sla_due_at, Case.closed_at).where(Case.closed_at > lo, *base)).subquery()
    sums = [func.coalesce(func.sum(sql_case((and_(u.c.sla_due_at < c, or_(u.c.closed_at.is_(None),
                                                                           u.c.closed_at > c)), 1), else_=0)), 0)
            for c in cuts]
    return {c: int(v) for c, v in zip(cuts, session.execute(select(*sums)).one())}


def _overdue_ids(session: Session, cut: datetime, community_id: int | None, limit: int) -> list[int]:
    """The ``limit`` most overdue case ids at ``cut``: each index path ordered and cut short in SQL."""
    base = _overdue_base(cut, community_id)
    rows = list(session.execute(select(Case.sla_due_at, Case.id).where(Case.closed_at.is_(None), *base).order_by(
        Case.sla_due_at, Case.id).limit(limit)).all())  # the open tail, in deadline order (partial index)
    # closed after the cut: a range of the closed_at index (ordering it by deadline would walk the whole
    # deadline index instead)
    rows += session.execute(select(Case.sla_due_at, Case.id).where(Case.closed_at > cut, *base)).all()
    return [i for _, i in sorted(rows)[:limit]]


def _overdue_at(frame: pd.DataFrame, cut: datetime) -> pd.DataFrame:
    c = pd.Timestamp(cut)
    return frame[(frame["sla_due_at"] < c) & (frame["closed_at"].isna() | (frame["closed_at"] > c))]


def overdue_count(session: Session, cut: datetime, community_id: int | None) -> int:
    """How many cases were overdue at ``cut``."""
    return len(_overdue_at(_overdue_frame(session, [cut], community_id), cut))


def overdue_list(session: Session, cut: datetime, community_id: int | None, limit: int = OVERDUE_LIST_MAX,
                 frame: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """The most overdue cases at ``cut`` (names masked)."""
    ids = (_overdue_ids(session, cut, community_id, limit) if frame is None
           else _overdue_at(frame, cut).sort_values(["sla_due_at", "id"]).head(limit)["id"].tolist())
    if not ids:
        return []
    rows = sorted(session.execute(select(Case.id, Case.code, Case.category_code, Case.grid_id, Case.state,
                                         Case.sla_due_at, Case.assigned_worker_id, Case.department)
                                  .where(Case.id.in_(ids))).all(), key=lambda r: (r.sla_due_at, r.id))
    grids = {r.id: r for r in session.execute(select(Grid.id, Grid.code, Grid.name).where(
        Grid.id.in_({r.grid_id for r in rows if r.grid_id})))}
    cats = dict(session.execute(select(Category.code, Category.name).where(
        Category.code.in_({r.category_code for r in rows}))).all())
    names = dict(session.execute(select(Worker.id, Worker.name).where(
        Worker.id.in_({r.assigned_worker_id for r in rows if r.assigned_worker_id}))).all())
    out = []
    for r in rows:
        g = grids.get(r.grid_id)
        out.append({"id": r.id, "code": r.code, "category": cats.get(r.category_code, r.category_code),
                    "grid_code": g.code if g else None, "grid_name": g.name if g else None, "state": r.state,
                    "sla_due_at": iso(r.sla_due_at),
                    "overdue_hours": round((cut - r.sla_due_at).total_seconds() / 3600.0, 2),
                    "worker": mask_name(names.get(r.assigned_worker_id)), "department": r.department})
    return out


def _cut(end: datetime, now: datetime) -> datetime:
    return min(end, now)


def _rate_row(session: Session, start: datetime, end: datetime, cal: WorkCalendar,
              community_id: int | None, measures: tuple | None = None) -> dict[str, Any]:
    rows = compute_indicators(session, level="street", start=start, end=end, calendar=cal,
                              community_id=community_id, measures=measures)
    return rows[0] if rows else {}


def day_kpis(session: Session, day: date, community_id: int | None, cal: WorkCalendar, now: datetime,
             cases: pd.DataFrame | None = None, measures: tuple | None = None,
             overdue: pd.DataFrame | dict | None = None) -> dict[str, Any]:
    """The KPI values of one day (``measures``: the indicators' per-case frame, when already fetched;
    ``overdue``: counts per cut-off from ``overdue_counts``, or the older overdue frame)."""
    start, end = local_day_bounds(day)
    if cases is None:
        cases = _day_cases(session, start, end, community_id)
    ind = _rate_row(session, start, end, cal, community_id, measures)
    closed = cases["closed_at"].notna() & (cases["closed_at"] >= start) & (cases["closed_at"] < end) & (
        cases["state"] == CaseState.CLOSED)
    reported, onsite = int(ind.get("reported") or 0), int(ind.get("onsite") or 0)
    return {"reported": reported, "onsite": onsite, "escalated": reported - onsite, "closed": int(closed.sum()),
            "overdue": (0 if start >= now else overdue_count(session, _cut(end, now), community_id)
                        if overdue is None else overdue[_cut(end, now)] if isinstance(overdue, dict)
                        else len(_overdue_at(overdue, _cut(end, now)))),
            "closure_rate": ind.get("closure_rate"), "on_time_rate": ind.get("on_time_rate"),
            "onsite_rate": ind.get("onsite_rate"), "avg_handling_hours": ind.get("avg_handling_hours"),
            "avg_handling_work_hours": ind.get("avg_handling_work_hours"),
            "handled": int(ind.get("handled") or 0),  # closed after a dispatch: what the handling times average
            "due": int(ind.get("due") or 0), "closed_due": int(ind.get("closed") or 0),
            "closed_on_time": int(ind.get("closed_on_time") or 0)}


def had_data(session: Session, day: date) -> bool:
    """Whether the system recorded anything on ``day`` (street-wide): a case reported or closed, or a GPS fix.

    A day before the system ran, or one it was down for, has nothing to compare with: its zeros are not
    figures. A community with no case on a day the street was running does compare (its zero is real).
    """
    start, end = local_day_bounds(day)
    probes = [select(PositionDay.worker_id).where(PositionDay.day == day),  # each one index range, cut at one row
              select(Case.id).where(Case.created_at >= start, Case.created_at < end),
              select(Case.id).where(Case.closed_at >= start, Case.closed_at < end)]
    return any(session.execute(q.limit(1)).first() is not None for q in probes)


def _delta(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return round(a - b, 4)


def _reported_in(cases: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return cases[(cases["created_at"] >= start) & (cases["created_at"] < end)]


def _hourly(cases: pd.DataFrame, start: datetime, end: datetime, column: str) -> list[int]:
    t = cases[column]
    sel = t.notna() & (t >= start) & (t < end)
    if column == "closed_at":
        sel &= cases["state"] == CaseState.CLOSED
    hours = t[sel].dt.tz_convert(SHANGHAI).dt.hour
    return [int(v) for v in hours.value_counts().reindex(range(24), fill_value=0).tolist()]


def _by_category(session: Session, rep: pd.DataFrame) -> list[dict[str, Any]]:
    cats = pd.DataFrame(_rows(session, select(Category.code, Category.major_code, Category.major_name)),
                        columns=["category_code", "major_code", "major_name"])
    if rep.empty:
        return []
    m = rep.merge(cats, on="category_code", how="left")
    g = m.groupby(["major_code", "major_name"], dropna=False).agg(
        reported=("id", "size"), onsite=("handled_onsite", "sum")).reset_index()
    g = g.sort_values(["reported", "major_code"], ascending=[False, True])
    return [{"major_code": r.major_code, "major_name": r.major_name, "reported": int(r.reported),
             "onsite": int(r.onsite)} for r in g.itertuples()]


def _funnel(rep: pd.DataFrame, end: datetime) -> dict[str, int]:
    esc = rep[~rep["handled_onsite"]]

    def before(col: str) -> pd.Series:
        return esc[col].notna() & (esc[col] < end)

    closed = before("closed_at") & (esc["state"] == CaseState.CLOSED)
    return {"reported": len(rep), "onsite": int(rep["handled_onsite"].sum()), "escalated": len(esc),
            "dispatched": int(before("dispatched_at").sum()), "feedback": int(before("feedback_at").sum()),
            "closed": int(closed.sum())}


def _communities(session: Session, start: datetime, end: datetime, cal: WorkCalendar,
                 community_id: int | None, measures: tuple | None = None) -> list[dict[str, Any]]:
    rows = {r["key"]: r for r in compute_indicators(session, level="community", start=start, end=end,
                                                    calendar=cal, community_id=community_id, measures=measures)}
    q = select(Community.id, Community.code, Community.name).order_by(Community.code)
    if community_id is not None:
        q = q.where(Community.id == community_id)
    out = []
    for cid, code, name in session.execute(q):
        r = rows.get(cid, {})
        out.append({"id": cid, "code": code, "name": name, "due": int(r.get("due") or 0),
                    "closed": int(r.get("closed") or 0), "closed_on_time": int(r.get("closed_on_time") or 0),
                    "closure_rate": r.get("closure_rate"), "on_time_rate": r.get("on_time_rate"),
                    "reported": int(r.get("reported") or 0)})
    return out


def _hot_grids(rep: pd.DataFrame, grids: pd.DataFrame, n: int = 10) -> list[dict[str, Any]]:
    if rep.empty:
        return []
    counts = rep.dropna(subset=["grid_id"]).groupby("grid_id").size().rename("reported").reset_index()
    m = counts.merge(grids, left_on="grid_id", right_on="id").sort_values(["reported", "code"],
                                                                          ascending=[False, True]).head(n)
    return [{"grid_id": int(r.grid_id), "code": r.code, "name": r.name, "community_id": int(r.community_id),
             "lat": float(r.lat), "lon": float(r.lon), "reported": int(r.reported)} for r in m.itertuples()]


def _json_list(v: Any) -> list[int]:
    if isinstance(v, str):
        import json

        v = json.loads(v)
    return [int(g) for g in (v or []) if g is not None]


def _activity_and_coverage(session: Session, day: date, start: datetime, end: datetime, grids: pd.DataFrame,
                           rep: pd.DataFrame, community_id: int | None) -> tuple[dict, dict]:
    grid_ids = set(grids["id"].tolist())
    codes, names = dict(zip(grids["id"], grids["code"])), dict(zip(grids["id"], grids["name"]))
    # the day's fixes per (worker, grid) from the rollup kept at ingest, not a GROUP BY over the fixes
    fixes = pd.DataFrame(day_rollup(session, day, community_id), columns=["worker_id", "grid_id", "n", "metres"])
    wq = select(Worker.id, Worker.name, Worker.grid_id).where(Worker.active.is_(True))
    workers = pd.DataFrame(_rows(session, wq), columns=["id", "name", "grid_id"])
    if community_id is not None:
        workers = workers[workers["grid_id"].isin(grid_ids)]
    patrols = pd.DataFrame(_rows(session, select(Patrol.kind, Patrol.worker_id, Patrol.distance_m,
                                                 Patrol.grids_covered).where(
        Patrol.started_at >= start, Patrol.started_at < end)),
        columns=["kind", "worker_id", "distance_m", "grids_covered"])
    foot = set(fixes["grid_id"].dropna().astype(int).tolist())
    mouse = set(int(g) for g in session.scalars(select(PatrolStopLog.grid_id).where(PatrolStopLog.day == day)))
    for kind, covered in zip(patrols["kind"], patrols["grids_covered"]):
        (mouse if kind == "mouse" else foot).update(_json_list(covered))
    foot, mouse = foot & grid_ids, mouse & grid_ids
    unvisited = grids[~grids["id"].isin(foot | mouse)]
    n = len(grids)
    coverage = {"grids": n, "foot": len(foot), "mouse": len(mouse), "any": len(foot | mouse),
                "foot_rate": round(len(foot) / n, 4) if n else None,
                "mouse_rate": round(len(mouse) / n, 4) if n else None,
                "any_rate": round(len(foot | mouse) / n, 4) if n else None,
                "unvisited_count": len(unvisited),
                "unvisited": [{"grid_id": int(r.id), "code": r.code, "name": r.name}
                              for r in unvisited.head(UNVISITED_LIST_MAX).itertuples()]}
    wids = set(workers["id"].tolist())
    mine = fixes[fixes["worker_id"].isin(wids)]
    fix_w = mine.groupby("worker_id")["n"].sum()
    km_w = mine.groupby("worker_id")["metres"].sum() / 1000.0  # walked, jitter filtered (services/position_day.py)
    in_scope = fixes[fixes["grid_id"].isin(grid_ids)]
    km_g = (in_scope.groupby("grid_id")["metres"].sum() / 1000.0).sort_values(ascending=False)
    rep_w = rep[rep["reporter_worker_id"].isin(wids)].groupby("reporter_worker_id").agg(
        reports=("id", "size"), onsite=("handled_onsite", "sum"))
    foot_p = patrols[(patrols["kind"] != "mouse") & patrols["worker_id"].isin(wids)]
    pat_w = foot_p.groupby("worker_id").agg(patrols=("kind", "size"))
    per = workers.set_index("id").join(fix_w.rename("fixes")).join(km_w.rename("km")).join(rep_w).join(pat_w)
    for c in ("fixes", "km", "reports", "onsite", "patrols"):
        per[c] = per[c].fillna(0)
    per["active"] = (per["fixes"] > 0) | (per["reports"] > 0)
    top = per[per["active"]].reset_index().sort_values(["reports", "fixes", "id"], ascending=[False, False, True])
    activity = {"workers": len(per), "active": int(per["active"].sum()), "fixes": int(per["fixes"].sum()),
                "reports": int(per["reports"].sum()), "onsite": int(per["onsite"].sum()),
                "foot_patrols": int(per["patrols"].sum()), "patrol_km": round(float(per["km"].sum()), 2),
                "km_by_grid": [{"grid_id": int(g), "code": codes.get(int(g), ""), "name": names.get(int(g), ""),
                                "km": round(float(v), 2)} for g, v in km_g.head(10).items() if v > 0],
                "mouse_patrols": int((patrols["kind"] == "mouse").sum()) if community_id is None else None,
                "top": [{"worker_id": int(r.id), "name": mask_name(r.name), "reports": int(r.reports),
                         "onsite": int(r.onsite), "fixes": int(r.fixes), "patrols": int(r.patrols),
                         "km": round(float(r.km), 2)}
                        for r in top.head(10).itertuples()]}
    return activity, coverage


def _alerts(session: Session, start: datetime, end: datetime, community_id: int | None) -> dict[str, Any]:
    q = select(Alert.id, Alert.kind, Alert.severity, Alert.title, Alert.state, Alert.created_at, Alert.grid_id,
               Alert.worker_id).where(Alert.created_at >= start, Alert.created_at < end, Alert.channel == "actual")
    if community_id is not None:
        q = q.where(Alert.community_id == community_id)
    rows = session.execute(q).all()
    by_kind: dict[str, int] = {}
    for r in rows:
        by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
    top = sorted(rows, key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.created_at, r.id))[:10]
    known = known_names(session)
    return {"count": len(rows), "by_kind": dict(sorted(by_kind.items())),
            "unresolved": sum(1 for r in rows if r.state != "resolved"),
            "notable": [{"id": r.id, "kind": r.kind, "severity": r.severity, "title": mask_text(r.title, (), known),
                         "state": r.state, "created_at": iso(r.created_at)} for r in top]}


def scope_name(session: Session, community_id: int | None) -> str:
    """The street's name, or the community's."""
    if community_id is not None:
        return session.scalar(select(Community.name).where(Community.id == community_id)) or str(community_id)
    return session.scalar(select(Street.name).order_by(Street.id).limit(1)) or ""


def briefing(session: Session, *, day: date, community_id: int | None = None,
             calendar: WorkCalendar | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the briefing for ``day`` (Asia/Shanghai) and the scope, JSON-ready."""
    cal = calendar or WorkCalendar()
    now = now or utcnow()
    start, end = local_day_bounds(day)
    y_day, w_day = day - timedelta(days=1), day - timedelta(days=7)
    cases = _day_cases(session, start, end, community_id)
    y_start, y_end = local_day_bounds(y_day)
    y_cases = _day_cases(session, y_start, y_end, community_id)
    measures = case_measures(session, start=start, end=end, calendar=cal, community_id=community_id)
    cuts = [_cut(local_day_bounds(d)[1], now) for d in (day, y_day, w_day) if local_day_bounds(d)[0] < now]
    od = overdue_counts(session, cuts, community_id) if cuts else None
    compare = {"yesterday": had_data(session, y_day), "last_week": had_data(session, w_day)}
    nothing = dict.fromkeys(KPI_KEYS)  # a compared day without data: no figure, no arrow ("无可比数据")
    k = {"today": day_kpis(session, day, community_id, cal, now, cases, measures, od),
         "yesterday": (day_kpis(session, y_day, community_id, cal, now, y_cases, overdue=od)
                       if compare["yesterday"] else nothing),
         "last_week": day_kpis(session, w_day, community_id, cal, now, overdue=od) if compare["last_week"] else nothing}
    kpis = [{"key": key, "value": k["today"][key], "yesterday": k["yesterday"][key],
             "last_week": k["last_week"][key], "delta_day": _delta(k["today"][key], k["yesterday"][key]),
             "delta_week": _delta(k["today"][key], k["last_week"][key])} for key in KPI_KEYS]
    rep = _reported_in(cases, start, end)
    grids = _scope_grids(session, community_id)
    activity, coverage = _activity_and_coverage(session, day, start, end, grids, rep, community_id)
    return {
        "day": day.isoformat(), "weekday": day.isoweekday(), "workday": cal.is_workday(day),
        "holiday": cal.names.get(day, "") if not cal.is_workday(day) else "",
        "community_id": community_id, "scope_name": scope_name(session, community_id),
        "start": iso(start), "end": iso(end), "cut": iso(_cut(end, now)), "generated_at": iso(now),
        "kpis": kpis, "counts": k["today"], "compare": compare,
        "by_category": _by_category(session, rep),
        "hourly": {"reported": _hourly(cases, start, end, "created_at"),
                   "closed": _hourly(cases, start, end, "closed_at"),
                   "reported_yesterday": (_hourly(y_cases, y_start, y_end, "created_at") if compare["yesterday"]
                                          else None)},
        "funnel": _funnel(rep, end),
        "communities": _communities(session, start, end, cal, community_id, measures),
        "hot_grids": _hot_grids(rep, grids),
        "overdue": overdue_list(session, _cut(end, now), community_id) if start < now else [],
        "workers": activity, "coverage": coverage,
        "alerts": _alerts(session, start, end, community_id),
        "satisfaction": satisfaction_for_day(session, day, community_id),
        "visits": visit_counts(session, day, community_id),
    }


def case_list(session: Session, *, day: date, community_id: int | None = None) -> list[dict[str, Any]]:
    """The day's cases (reported or closed in the day) for the CSV/Excel export, names masked."""
    start, end = local_day_bounds(day)
    df = _day_cases(session, start, end, community_id).sort_values(["created_at", "id"])
    cats = {c: (m, n) for c, m, n in session.execute(select(Category.code, Category.major_name, Category.name))}
    grids = {i: (c, n) for i, c, n in session.execute(select(Grid.id, Grid.code, Grid.name).where(
        Grid.id.in_([int(g) for g in df["grid_id"].dropna().unique()])))}
    names = dict(session.execute(select(Worker.id, Worker.name).where(
        Worker.id.in_([int(w) for w in df["reporter_worker_id"].dropna().unique()]))).all())
    out = []
    for r in df.itertuples():
        m, n = cats.get(r.category_code, ("", r.category_code))
        gc, gn = grids.get(r.grid_id, ("", "")) if pd.notna(r.grid_id) else ("", "")
        out.append({"code": r.code, "major": m, "category": n, "grid_code": gc, "grid_name": gn,
                    "state": r.state, "onsite": bool(r.handled_onsite),
                    "reporter": mask_name(names.get(r.reporter_worker_id)) if pd.notna(r.reporter_worker_id) else "",
                    "created_at": iso(r.created_at.to_pydatetime()),
                    "dispatched_at": iso(r.dispatched_at.to_pydatetime()) if pd.notna(r.dispatched_at) else "",
                    "closed_at": iso(r.closed_at.to_pydatetime()) if pd.notna(r.closed_at) else ""})
    return out
