"""The 五治 indicators: one table, each with its formula, unit and a bulk compute function.

Every indicator is computed per grid as a numerator and (optionally) a denominator, with
one grouped query for all grids; a community's or the street's value sums numerators and
denominators over its grids, so ratios are never averages of ratios. ``value = scale ×
num / den`` (or ``num`` when there is no denominator).

Periods are in Asia/Shanghai: "this month" is the calendar month of ``day`` up to the end
of ``day``; "today" is ``day``.

Scores (0–100) are against targets the street sets (``governance_target``; defaults here, from the demo's
model), never against the best community: ``score = min(100, 100 × value / expected)`` where ``expected`` is the
target for a ratio, target × grids for a count per grid, and target × grids × the share of the month gone for a
month's count. A dimension's score is the mean of its indicators' scores.
"""
from __future__ import annotations

from dataclasses import dataclass
import calendar
from datetime import date, datetime, time, timedelta
from typing import Any, Callable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Camera, Case, Community, Grid, Place, PositionDay, ResidentCount, Worker
from ..models.governance import AccessDevice, GovernanceActivity, GovernanceTarget, LegalStaff, PartyPost
from ..models.residents import ResidentTicket, Visit
from ..timeutil import SHANGHAI, local_day_bounds, local_today, utcnow

DIMENSIONS = ("party", "law", "virtue", "self", "smart")  # 政治 法治 德治 自治 智治
LEGAL_KINDS = ("sanguan_visit", "moot_court", "legal_education")
VIRTUE_KINDS = ("civility_practice", "org_service", "volunteer_service")
SELF_KINDS = ("residents_council", "mediation")
PARTY_KINDS = ("party_meeting", "party_service")


@dataclass(frozen=True)
class Period:
    """The time windows an indicator may use (all UTC, computed from a local day)."""

    day: date
    day_start: datetime
    day_end: datetime
    month_start: datetime
    now: datetime

    @classmethod
    def for_day(cls, day: date | None = None, now: datetime | None = None) -> "Period":
        now = now or utcnow()
        day = day or local_today(now)
        start, end = local_day_bounds(day)
        month_start = datetime.combine(day.replace(day=1), time(0), tzinfo=SHANGHAI)
        return cls(day, start, end, month_start.astimezone(start.tzinfo), min(now, end))


Frame = pd.DataFrame  # index grid_id, columns num[, den]
Compute = Callable[[Session, pd.Index, Period], Frame]


@dataclass(frozen=True)
class Indicator:
    key: str
    name_zh: str
    name_en: str
    dimension: str
    formula: str
    unit_zh: str
    unit_en: str
    scale: float | None  # None: a count (sum of num); else scale × Σnum / Σden
    compute: Compute
    target: float = 1.0  # the default target (GovernanceTarget overrides it); see ``expected``
    basis: str = "value"  # value: the ratio itself | grid: a count per grid | grid_month: a count per grid a month

    def public(self, lang: str = "zh-CN", target: float | None = None) -> dict[str, Any]:
        en = lang == "en"
        return {"key": self.key, "name": self.name_en if en else self.name_zh, "name_zh": self.name_zh,
                "name_en": self.name_en, "dimension": self.dimension, "formula": self.formula,
                "unit": self.unit_en if en else self.unit_zh, "target": self.target if target is None else target,
                "target_basis": self.basis}


def _series(rows, grids: pd.Index) -> pd.Series:
    s = pd.Series(dict((k, v) for k, v in rows if k is not None), dtype="float64")
    return s.reindex(grids, fill_value=0.0).fillna(0.0)


def _frame(grids: pd.Index, num, den=None) -> Frame:
    f = pd.DataFrame({"num": _series(num, grids)})
    if den is not None:
        f["den"] = den if isinstance(den, pd.Series) else _series(den, grids)
    return f


def _ones(grids: pd.Index) -> pd.Series:
    return pd.Series(1.0, index=grids)


def _activities(s: Session, grids: pd.Index, p: Period, kinds=None, measure=None) -> list:
    q = select(GovernanceActivity.grid_id, measure if measure is not None else func.count()).where(
        GovernanceActivity.started_at >= p.month_start, GovernanceActivity.started_at < p.day_end)
    if kinds:
        q = q.where(GovernanceActivity.kind.in_(kinds))
    return s.execute(q.group_by(GovernanceActivity.grid_id)).all()


def party_per_households(s: Session, grids: pd.Index, p: Period) -> Frame:
    members = s.execute(select(ResidentCount.grid_id, func.sum(ResidentCount.count)).where(
        ResidentCount.category == "党员").group_by(ResidentCount.grid_id)).all()
    households = s.execute(select(Place.grid_id, func.sum(Place.households)).where(
        Place.kind == "building").group_by(Place.grid_id)).all()
    return _frame(grids, members, households)


def party_posts(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, s.execute(select(PartyPost.grid_id, func.count()).where(
        PartyPost.active.is_(True), PartyPost.registered_on < p.day_end).group_by(PartyPost.grid_id)).all())


def party_activities(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, _activities(s, grids, p, PARTY_KINDS))


def legal_staff_per_grid(s: Session, grids: pd.Index, p: Period) -> Frame:
    rows = s.execute(select(LegalStaff.grid_id, func.count()).where(LegalStaff.active.is_(True))
                     .group_by(LegalStaff.grid_id)).all()
    return _frame(grids, rows, _ones(grids))


def legal_visits(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, _activities(s, grids, p, LEGAL_KINDS))


def virtue_activities(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, _activities(s, grids, p, VIRTUE_KINDS))


def volunteer_hours(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, _activities(s, grids, p, None, func.sum(GovernanceActivity.volunteer_hours)))


def council_meetings(s: Session, grids: pd.Index, p: Period) -> Frame:
    return _frame(grids, _activities(s, grids, p, SELF_KINDS))


def self_governance_share(s: Session, grids: pd.Index, p: Period) -> Frame:
    closed = (Case.state == "closed", Case.closed_at >= p.month_start, Case.closed_at < p.day_end)
    settled = select(GovernanceActivity.case_id).where(GovernanceActivity.kind.in_(SELF_KINDS),
                                                       GovernanceActivity.case_id.is_not(None))
    den = s.execute(select(Case.grid_id, func.count()).where(*closed).group_by(Case.grid_id)).all()
    num = s.execute(select(Case.grid_id, func.count()).where(*closed, Case.id.in_(settled))
                    .group_by(Case.grid_id)).all()
    return _frame(grids, num, den)


def _households(s: Session) -> list:
    return s.execute(select(Place.grid_id, func.sum(Place.households)).where(
        Place.kind == "building").group_by(Place.grid_id)).all()


def visits_per_households(s: Session, grids: pd.Index, p: Period) -> Frame:
    """Visits (走访) recorded this month per 100 households of the grid's buildings (×100)."""
    rows = s.execute(select(Visit.grid_id, func.count()).where(Visit.at >= p.month_start, Visit.at < p.day_end)
                     .group_by(Visit.grid_id)).all()
    return _frame(grids, rows, _households(s))


def resident_satisfaction(s: Session, grids: pd.Index, p: Period) -> Frame:
    """Residents' answers this month that were 满意 or 基本满意, of all answers (×100): 民意 (services/satisfaction)."""
    q = select(ResidentTicket.grid_id, func.count()).where(
        ResidentTicket.satisfaction_at >= p.month_start, ResidentTicket.satisfaction_at < p.day_end)
    num = s.execute(q.where(ResidentTicket.satisfaction.in_(("satisfied", "basic"))).group_by(
        ResidentTicket.grid_id)).all()
    den = s.execute(q.where(ResidentTicket.satisfaction.in_(("satisfied", "basic", "unsatisfied"))).group_by(
        ResidentTicket.grid_id)).all()
    return _frame(grids, num, den)


def sensed_grid_share(s: Session, grids: pd.Index, p: Period) -> Frame:
    """Grids with at least one camera or active access point, of all grids (×100 in the table)."""
    cams = _series(s.execute(select(Camera.grid_id, func.count()).group_by(Camera.grid_id)).all(), grids)
    doors = _series(s.execute(select(AccessDevice.grid_id, func.count()).where(AccessDevice.active.is_(True))
                              .group_by(AccessDevice.grid_id)).all(), grids)
    return pd.DataFrame({"num": ((cams + doors) > 0).astype(float), "den": _ones(grids)})


def device_uptime(s: Session, grids: pd.Index, p: Period) -> Frame:
    """Active access points online now, of all active access points (×100)."""
    q = select(AccessDevice.grid_id, func.count()).where(AccessDevice.active.is_(True))
    return _frame(grids, s.execute(q.where(AccessDevice.online.is_(True)).group_by(AccessDevice.grid_id)).all(),
                  s.execute(q.group_by(AccessDevice.grid_id)).all())


def _workers(s: Session, grids: pd.Index) -> list:
    return s.execute(select(Worker.grid_id, func.count()).where(Worker.active.is_(True))
                     .group_by(Worker.grid_id)).all()


def app_reports_per_worker(s: Session, grids: pd.Index, p: Period) -> Frame:
    rows = s.execute(select(Case.grid_id, func.count()).where(
        Case.source == "app", Case.reporter_worker_id.is_not(None), Case.created_at >= p.day_start,
        Case.created_at < p.day_end).group_by(Case.grid_id)).all()
    return _frame(grids, rows, _workers(s, grids))


def app_active_share(s: Session, grids: pd.Index, p: Period) -> Frame:
    """Active workers whose app sent a fix or a report that day, of all active workers, by home grid (×100).
    Fixes come from the per-day rollup (services/position_day.py), not the day's fixes."""
    home = dict(s.execute(select(Worker.id, Worker.grid_id).where(Worker.active.is_(True))).all())
    seen = set(s.scalars(select(PositionDay.worker_id).where(PositionDay.day == p.day).distinct()))
    seen |= set(s.scalars(select(Case.reporter_worker_id).where(
        Case.reporter_worker_id.is_not(None), Case.created_at >= p.day_start, Case.created_at < p.day_end)))
    per_grid: dict[int, float] = {}
    for wid in seen:
        if wid in home and home[wid] is not None:
            per_grid[home[wid]] = per_grid.get(home[wid], 0.0) + 1
    return _frame(grids, per_grid.items(), _workers(s, grids))


INDICATORS: tuple[Indicator, ...] = (
    Indicator("party_per_100_households", "每百户党员数", "Party members per 100 households", "party",
              "100 × 党员 residents / households of the grid's buildings", "人/百户", "per 100 hh", 100,
              party_per_households, 5.0),
    Indicator("party_posts", "报到党员认岗", "Party members serving in grid posts", "party",
              "active 报到党员认岗 registrations up to the end of the day", "人", "people", None, party_posts, 2.0,
              "grid"),
    Indicator("party_activities_month", "本月党建活动", "Party activities this month", "party",
              "activities of kind party_meeting/party_service started this month", "次", "events", None,
              party_activities, 0.3, "grid_month"),
    Indicator("legal_staff_per_grid", "每网格入网法治力量", "Legal & enforcement staff per grid", "law",
              "active legal/enforcement staff attached / grids", "人/网格", "per grid", 1, legal_staff_per_grid, 0.4),
    Indicator("legal_visits_month", "本月法律服务", "Legal-service visits this month", "law",
              "activities of kind 三官一律 visit / 模拟法庭 / 普法 started this month", "次", "visits", None,
              legal_visits, 0.25, "grid_month"),
    Indicator("virtue_activities_month", "本月文明实践与志愿服务", "Civility & service activities this month",
              "virtue", "activities of kind 新时代文明实践 / social-organisation service / volunteer service "
              "started this month", "次", "events", None, virtue_activities, 0.8, "grid_month"),
    Indicator("volunteer_hours_month", "本月志愿服务时长", "Volunteer hours this month", "virtue",
              "Σ volunteer hours of all activities started this month", "小时", "hours", None, volunteer_hours, 20.0,
              "grid_month"),
    Indicator("council_meetings_month", "本月议事协商与调解", "Council meetings & mediations this month", "self",
              "activities of kind residents_council / mediation started this month", "次", "meetings", None,
              council_meetings, 0.2, "grid_month"),
    Indicator("self_governance_share", "自治化解率", "Cases settled by self-governance", "self",
              "100 × cases closed this month that a council/mediation activity settled (its case) / "
              "cases closed this month", "%", "%", 100, self_governance_share, 10.0),
    Indicator("visits_per_100_households_month", "本月每百户走访", "Visits per 100 households this month", "self",
              "100 × visits (走访) recorded this month / households of the grid's buildings", "次/百户",
              "per 100 hh", 100, visits_per_households, 2.0),
    Indicator("resident_satisfaction_share", "本月居民满意率", "Residents satisfied this month", "self",
              "100 × residents' answers this month 满意 or 基本满意 / all their answers this month", "%", "%", 100,
              resident_satisfaction, 90.0),
    Indicator("sensed_grid_share", "有监控或门禁的网格占比", "Grids with a camera or access point", "smart",
              "100 × grids with at least one camera or active access-control device / grids", "%", "%", 100,
              sensed_grid_share, 80.0),
    Indicator("device_uptime", "门禁设备在线率", "Access devices online", "smart",
              "100 × active access-control devices online now / active access-control devices", "%", "%", 100,
              device_uptime, 95.0),
    Indicator("app_reports_per_worker", "今日人均上报", "App reports per worker today", "smart",
              "cases reported from the app by workers today / active workers (home grid)", "件/人",
              "per worker", 1, app_reports_per_worker, 0.5),
    Indicator("app_active_share", "今日APP在岗率", "Workers active in the app today", "smart",
              "100 × active workers whose app sent a fix or a report today / active workers (home grid)", "%", "%",
              100, app_active_share, 90.0),
)
BY_KEY = {i.key: i for i in INDICATORS}

LEVELS = ("grid", "community", "street")


def grid_table(session: Session, period: Period) -> pd.DataFrame:
    """Numerator and denominator of every indicator for every grid (one query per indicator part)."""
    grids = pd.DataFrame(session.execute(select(Grid.id, Grid.code, Grid.name, Grid.community_id)).all(),
                         columns=["id", "code", "name", "community_id"]).set_index("id")
    parts = {}
    for ind in INDICATORS:
        f = ind.compute(session, grids.index, period)
        parts[f"{ind.key}:num"] = f["num"].astype(float)
        if "den" in f:
            parts[f"{ind.key}:den"] = f["den"].astype(float)
    return grids.join(pd.DataFrame(parts, index=grids.index))


def _values(sums: pd.DataFrame) -> list[dict[str, float | None]]:
    """Indicator values for each row of summed numerators/denominators (vectorised; NaN → None)."""
    out = {}
    for ind in INDICATORS:
        num = sums[f"{ind.key}:num"]
        if ind.scale is None:
            out[ind.key] = num.round(2)
        else:
            den = sums[f"{ind.key}:den"]
            out[ind.key] = (ind.scale * num / den.where(den > 0)).round(2)
    frame = pd.DataFrame(out, index=sums.index).astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def aggregate(table: pd.DataFrame, level: str, names: dict[int, tuple[str, str]] | None = None) -> list[dict]:
    """Rows of ``{id, code, name, values}`` for each grid, each community, or the street as a whole."""
    cols = [c for c in table.columns if ":" in c]
    if level == "grid":
        return [{"id": int(gid), "code": code, "name": name, "community_id": int(cid), "grids": 1, "values": v}
                for gid, code, name, cid, v in zip(table.index, table["code"], table["name"], table["community_id"],
                                                    _values(table[cols]))]
    if level == "community":
        sums = table.groupby("community_id")[cols].sum()
        n = table.groupby("community_id").size()
        names = names or {}
        return [{"id": int(cid), "code": names.get(cid, ("", ""))[0], "name": names.get(cid, ("", ""))[1],
                 "grids": int(n[cid]), "values": v} for cid, v in zip(sums.index, _values(sums))]
    if level == "street":
        return [{"id": None, "code": "", "name": "", "grids": len(table),
                 "values": _values(table[cols].sum().to_frame().T)[0]}]
    raise ValueError(f"level must be one of {', '.join(LEVELS)}")


def targets(session: Session | None = None) -> dict[str, float]:
    """Each indicator's target: the street's (``governance_target``) where set, else the default."""
    out = {i.key: i.target for i in INDICATORS}
    if session is not None:
        out.update({k: float(v) for k, v in session.execute(select(GovernanceTarget.key, GovernanceTarget.target))
                    if k in out})
    return out


def month_share(period: Period) -> float:
    """How much of the month the period covers: day 15 of a 30-day month → 0.5 (a month's count is due pro rata)."""
    return period.day.day / calendar.monthrange(period.day.year, period.day.month)[1]


def expected(ind: Indicator, target: float, grids: int, period: Period) -> float:
    """The figure a row should reach: a ratio's target as is; a count per grid × the row's grids; a month's count
    per grid × grids × the share of the month gone."""
    if ind.basis == "grid_month":
        return target * grids * month_share(period)
    if ind.basis == "grid":
        return target * grids
    return target


def score(value: float | None, want: float) -> float | None:
    """0–100: the value against what the target expects, capped at 100; None when the value is undefined."""
    if value is None:
        return None
    if want <= 0:
        return 100.0
    return round(min(100.0, 100.0 * value / want), 1)


def dimension_scores(rows: list[dict], goals: dict[str, float] | None = None,
                     period: Period | None = None) -> list[dict[str, float | None]]:
    """0–100 per dimension for each row: the mean of its indicators' scores against the street's targets (an
    indicator without a value that day — no denominator — is left out). Sets each row's ``indicator_scores`` and
    ``expected`` (the raw figure each score compares with)."""
    goals = goals or targets()
    period = period or Period.for_day()
    out = []
    for r in rows:
        per_dim: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
        r["indicator_scores"], r["expected"] = {}, {}
        for i in INDICATORS:
            want = expected(i, goals[i.key], int(r.get("grids") or 1), period)
            sc = score(r["values"][i.key], want)
            r["indicator_scores"][i.key], r["expected"][i.key] = sc, round(want, 2)
            if sc is not None:
                per_dim[i.dimension].append(sc)
        out.append({d: round(sum(v) / len(v), 1) if v else None for d, v in per_dim.items()})
    return out


def previous_month_day(day: date) -> date:
    """The last day of the month before ``day``'s: the month a leader compares this one with."""
    return day.replace(day=1) - timedelta(days=1)


def compute_levels(session: Session, levels: tuple[str, ...], *, day: date | None = None,
                   now: datetime | None = None, community_id: int | None = None,
                   lang: str = "zh-CN", previous: bool = False) -> dict[str, dict[str, Any]]:
    """Every indicator at several levels from one pass over the grids (optionally one community only), each row
    scored against the street's targets; with ``previous``, each row also carries last month's figures."""
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    period = Period.for_day(day, now)
    goals = targets(session)
    table = grid_table(session, period)
    if community_id is not None:
        table = table[table["community_id"] == community_id]
    names = {cid: (code, name) for cid, code, name in session.execute(
        select(Community.id, Community.code, Community.name)).all()}
    before: pd.DataFrame | None = None
    prev_period = None
    if previous:  # the month before, as it stood at its last day (activities are dated; devices are as now)
        prev_day = previous_month_day(period.day)
        prev_period = Period.for_day(prev_day, local_day_bounds(prev_day)[1])
        before = grid_table(session, prev_period)
        if community_id is not None:
            before = before[before["community_id"] == community_id]
    out = {}
    for level in levels:
        rows = aggregate(table, level, names)
        for r, sc in zip(rows, dimension_scores(rows, goals, period)):
            r["scores"] = sc
        if before is not None and prev_period is not None:
            prev = aggregate(before, level, names)
            for p_row, sc in zip(prev, dimension_scores(prev, goals, prev_period)):
                p_row["scores"] = sc
            by_id = {p_row["id"]: p_row for p_row in prev}
            for r in rows:
                p_row = by_id.get(r["id"])
                r["previous"] = ({"day": prev_period.day.isoformat(), "values": p_row["values"],
                                  "scores": p_row["scores"], "indicator_scores": p_row["indicator_scores"]}
                                 if p_row else None)
        out[level] = {"level": level, "day": period.day.isoformat(), "community_id": community_id,
                      "dimensions": list(DIMENSIONS), "month_share": round(month_share(period), 4),
                      "indicators": [i.public(lang, goals[i.key]) for i in INDICATORS], "rows": rows}
    return out


def compute_indicators(session: Session, *, level: str = "street", day: date | None = None,
                       now: datetime | None = None, community_id: int | None = None,
                       lang: str = "zh-CN", previous: bool = False) -> dict[str, Any]:
    """Every indicator at one level (optionally only one community's rows), with definitions, targets and scores."""
    return compute_levels(session, (level,), day=day, now=now, community_id=community_id, lang=lang,
                          previous=previous)[level]
