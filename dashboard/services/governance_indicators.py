"""The 五治 indicators: one table, each with its formula, unit and a bulk compute function.

Every indicator is computed per grid as a numerator and (optionally) a denominator, with
one grouped query for all grids; a community's or the street's value sums numerators and
denominators over its grids, so ratios are never averages of ratios. ``value = scale ×
num / den`` (or ``num`` when there is no denominator).

Periods are in Asia/Shanghai: "this month" is the calendar month of ``day`` up to the end
of ``day``; "today" is ``day``; "last hour" is the hour before min(now, end of ``day``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Camera, Case, Community, Grid, Place, Position, ResidentCount, Worker
from ..models.governance import AccessDevice, GovernanceActivity, LegalStaff, PartyPost
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

    def public(self, lang: str = "zh-CN") -> dict[str, Any]:
        en = lang == "en"
        return {"key": self.key, "name": self.name_en if en else self.name_zh, "name_zh": self.name_zh,
                "name_en": self.name_en, "dimension": self.dimension, "formula": self.formula,
                "unit": self.unit_en if en else self.unit_zh}


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


def devices_per_grid(s: Session, grids: pd.Index, p: Period) -> Frame:
    cams = _series(s.execute(select(Camera.grid_id, func.count()).group_by(Camera.grid_id)).all(), grids)
    doors = _series(s.execute(select(AccessDevice.grid_id, func.count()).where(AccessDevice.active.is_(True))
                              .group_by(AccessDevice.grid_id)).all(), grids)
    return pd.DataFrame({"num": cams + doors, "den": _ones(grids)})


def _workers(s: Session, grids: pd.Index) -> list:
    return s.execute(select(Worker.grid_id, func.count()).where(Worker.active.is_(True))
                     .group_by(Worker.grid_id)).all()


def app_reports_per_worker(s: Session, grids: pd.Index, p: Period) -> Frame:
    rows = s.execute(select(Case.grid_id, func.count()).where(
        Case.source == "app", Case.reporter_worker_id.is_not(None), Case.created_at >= p.day_start,
        Case.created_at < p.day_end).group_by(Case.grid_id)).all()
    return _frame(grids, rows, _workers(s, grids))


def app_fixes_per_worker(s: Session, grids: pd.Index, p: Period) -> Frame:
    # by worker on (worker_id, fix_time) — the position table's covering unique index — then to home grids
    home = dict(s.execute(select(Worker.id, Worker.grid_id).where(Worker.active.is_(True))).all())
    rows = s.execute(select(Position.worker_id, func.count()).where(
        Position.worker_id.in_(sorted(home)), Position.fix_time >= p.now - timedelta(hours=1),
        Position.fix_time < p.now).group_by(Position.worker_id)).all() if home else []
    per_grid: dict[int, float] = {}
    for wid, n in rows:
        per_grid[home[wid]] = per_grid.get(home[wid], 0.0) + n
    return _frame(grids, per_grid.items(), _workers(s, grids))


INDICATORS: tuple[Indicator, ...] = (
    Indicator("party_per_100_households", "每百户党员数", "Party members per 100 households", "party",
              "100 × 党员 residents / households of the grid's buildings", "人/百户", "per 100 hh", 100,
              party_per_households),
    Indicator("party_posts", "报到党员认岗", "Party members serving in grid posts", "party",
              "active 报到党员认岗 registrations up to the end of the day", "人", "people", None, party_posts),
    Indicator("party_activities_month", "本月党建活动", "Party activities this month", "party",
              "activities of kind party_meeting/party_service started this month", "次", "events", None,
              party_activities),
    Indicator("legal_staff_per_grid", "每网格入网法治力量", "Legal & enforcement staff per grid", "law",
              "active legal/enforcement staff attached / grids", "人/网格", "per grid", 1, legal_staff_per_grid),
    Indicator("legal_visits_month", "本月法律服务", "Legal-service visits this month", "law",
              "activities of kind 三官一律 visit / 模拟法庭 / 普法 started this month", "次", "visits", None,
              legal_visits),
    Indicator("virtue_activities_month", "本月文明实践与志愿服务", "Civility & service activities this month",
              "virtue", "activities of kind 新时代文明实践 / social-organisation service / volunteer service "
              "started this month", "次", "events", None, virtue_activities),
    Indicator("volunteer_hours_month", "本月志愿服务时长", "Volunteer hours this month", "virtue",
              "Σ volunteer hours of all activities started this month", "小时", "hours", None, volunteer_hours),
    Indicator("council_meetings_month", "本月议事协商与调解", "Council meetings & mediations this month", "self",
              "activities of kind residents_council / mediation started this month", "次", "meetings", None,
              council_meetings),
    Indicator("self_governance_share", "自治化解率", "Cases settled by self-governance", "self",
              "100 × cases closed this month that a council/mediation activity settled (its case) / "
              "cases closed this month", "%", "%", 100, self_governance_share),
    Indicator("devices_per_grid", "每网格感知点位", "Cameras & access points per grid", "smart",
              "(cameras + active access-control devices) / grids", "个/网格", "per grid", 1, devices_per_grid),
    Indicator("app_reports_per_worker", "今日人均上报", "App reports per worker today", "smart",
              "cases reported from the app by workers today / active workers (home grid)", "件/人",
              "per worker", 1, app_reports_per_worker),
    Indicator("app_fixes_per_worker_hour", "近1小时人均定位", "GPS fixes per worker, last hour", "smart",
              "GPS fixes taken in the last hour by active workers / active workers (both by home grid)", "次/人",
              "per worker", 1, app_fixes_per_worker),
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
        return [{"id": int(gid), "code": code, "name": name, "community_id": int(cid), "values": v}
                for gid, code, name, cid, v in zip(table.index, table["code"], table["name"], table["community_id"],
                                                    _values(table[cols]))]
    if level == "community":
        sums = table.groupby("community_id")[cols].sum()
        names = names or {}
        return [{"id": int(cid), "code": names.get(cid, ("", ""))[0], "name": names.get(cid, ("", ""))[1],
                 "values": v} for cid, v in zip(sums.index, _values(sums))]
    if level == "street":
        return [{"id": None, "code": "", "name": "", "values": _values(table[cols].sum().to_frame().T)[0]}]
    raise ValueError(f"level must be one of {', '.join(LEVELS)}")


def dimension_scores(rows: list[dict]) -> list[dict[str, float]]:
    """0–100 per dimension for each row: each indicator against the best row, averaged per dimension."""
    best = {i.key: max((r["values"][i.key] or 0.0) for r in rows) if rows else 0.0 for i in INDICATORS}
    out = []
    for r in rows:
        per_dim: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
        for i in INDICATORS:
            v, b = r["values"][i.key] or 0.0, best[i.key]
            per_dim[i.dimension].append(100.0 * v / b if b > 0 else 0.0)
        out.append({d: round(sum(v) / len(v), 1) if v else 0.0 for d, v in per_dim.items()})
    return out


def compute_levels(session: Session, levels: tuple[str, ...], *, day: date | None = None,
                   now: datetime | None = None, community_id: int | None = None,
                   lang: str = "zh-CN") -> dict[str, dict[str, Any]]:
    """Every indicator at several levels from one pass over the grids (optionally one community only)."""
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    period = Period.for_day(day, now)
    table = grid_table(session, period)
    if community_id is not None:
        table = table[table["community_id"] == community_id]
    names = {cid: (code, name) for cid, code, name in session.execute(
        select(Community.id, Community.code, Community.name)).all()}
    out = {}
    for level in levels:
        rows = aggregate(table, level, names)
        for r, sc in zip(rows, dimension_scores(rows)):
            r["scores"] = sc
        out[level] = {"level": level, "day": period.day.isoformat(), "community_id": community_id,
                      "dimensions": list(DIMENSIONS), "indicators": [i.public(lang) for i in INDICATORS],
                      "rows": rows}
    return out


def compute_indicators(session: Session, *, level: str = "street", day: date | None = None,
                       now: datetime | None = None, community_id: int | None = None,
                       lang: str = "zh-CN") -> dict[str, Any]:
    """Every indicator at one level (optionally only one community's rows), with definitions and scores."""
    return compute_levels(session, (level,), day=day, now=now, community_id=community_id, lang=lang)[level]
