"""Alert rules, run by the scheduler: each reads the DB in bulk and raises idempotent alerts (dedupe keys).

Rules: overdue case, SLA warning at 80 % of the limit, dispatch not acknowledged within N minutes,
worker silent during the shift, grid not patrolled for N hours, a spike of cases in one grid; CAP
alerts past ``expires`` are cleared. Device SOS is raised at ingest (services.positions). Rule
alerts whose cause is gone (case closed, dispatch acknowledged, worker back) are resolved.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Alert, AlertState, Case, CaseState, Category, Dispatch, DutyState, Grid, Position, Worker
from ..timeutil import as_utc, iso, local, utcnow
from ..workcal import WorkCalendar
from .alerts import raise_alert, resolve
from .cap import expire_alerts

log = logging.getLogger(__name__)
OPEN = [CaseState.DISPATCHED, CaseState.HANDLING, CaseState.FEEDBACK]


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds; from GC_RULE_* settings (minutes, hours, counts)."""

    sla_warning_share: float = 0.8
    no_ack_minutes: float = 15.0
    offline_minutes: float = 20.0
    patrol_hours: float = 8.0
    spike_window_minutes: float = 60.0
    spike_min_cases: int = 3
    spike_factor: float = 3.0
    interval_s: float = 30.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, str]) -> "RuleConfig":
        """Read GC_RULE_<FIELD> values (e.g. GC_RULE_NO_ACK_MINUTES=10)."""
        kw = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = extra.get(f"GC_RULE_{name.upper()}")
            if raw:
                kw[name] = int(raw) if f.type in (int, "int") else float(raw)
        return cls(**kw)


def _raise_new(session: Session, candidates: list[dict]) -> int:
    """Raise the candidate alerts whose dedupe key is not taken yet (one query for all the keys)."""
    if not candidates:
        return 0
    keys = [c["dedupe_key"] for c in candidates]
    taken = set()
    for i in range(0, len(keys), 500):
        taken |= set(session.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(keys[i:i + 500]))))
    n = 0
    for c in candidates:
        if c["dedupe_key"] not in taken:
            n += raise_alert(session, **c)[1]
    return n


def _grid_comm(session: Session) -> dict[int, int]:
    return dict(session.execute(select(Grid.id, Grid.community_id)).all())


def overdue_and_warning(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> int:
    """Overdue cases (past sla_due_at) and the warning at ``sla_warning_share`` of the time limit."""
    rows = session.execute(select(Case.id, Case.code, Case.grid_id, Case.community_id, Case.lat, Case.lon,
                                  Case.dispatched_at, Case.sla_due_at, Case.assigned_worker_id,
                                  Category.name, Category.time_limit_hours)
                           .join(Category, Category.code == Case.category_code)
                           .where(Case.state.in_(OPEN), Case.sla_due_at.is_not(None))).all()
    out = []
    for r in rows:
        common = dict(source="rule", lat=r.lat, lon=r.lon, grid_id=r.grid_id, community_id=r.community_id,
                      case_id=r.id, worker_id=r.assigned_worker_id, now=now)
        if r.sla_due_at <= now:
            out.append(dict(kind="overdue", severity="severe", title=f"案卷超期：{r.code} {r.name}",
                            description=f"处置时限 {iso(r.sla_due_at)} 已过", dedupe_key=f"overdue:{r.id}", **common))
        elif cal.add_working_hours(r.dispatched_at, r.time_limit_hours * cfg.sla_warning_share) <= now:
            out.append(dict(kind="sla_warning", severity="moderate", title=f"即将超期：{r.code} {r.name}",
                            description=f"已用时限 {cfg.sla_warning_share:.0%}，截止 {iso(r.sla_due_at)}",
                            dedupe_key=f"sla_warning:{r.id}", **common))
    return _raise_new(session, out)


def no_acknowledgement(session: Session, now: datetime, cfg: RuleConfig) -> int:
    """Dispatches still 'sent' after ``no_ack_minutes``."""
    cutoff = now - timedelta(minutes=cfg.no_ack_minutes)
    rows = session.execute(select(Dispatch.id, Dispatch.worker_id, Dispatch.sent_at, Case.id, Case.code,
                                  Case.grid_id, Case.community_id, Case.lat, Case.lon, Worker.code)
                           .join(Case, Case.id == Dispatch.case_id).join(Worker, Worker.id == Dispatch.worker_id)
                           .where(Dispatch.state == "sent", Dispatch.sent_at <= cutoff)).all()
    return _raise_new(session, [dict(
        source="rule", kind="no_ack", severity="moderate", title=f"派遣未签收：{code} → {wcode}",
        description=f"{iso(sent)} 派遣，{cfg.no_ack_minutes:.0f} 分钟内未签收", lat=lat, lon=lon, grid_id=gid,
        community_id=comm, case_id=cid, worker_id=wid, dedupe_key=f"no_ack:{did}", now=now)
        for did, wid, sent, cid, code, gid, comm, lat, lon, wcode in rows])


def offline_during_shift(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> int:
    """On-duty workers whose phone has been silent for ``offline_minutes`` during working time."""
    if cal.working_hours_between(now - timedelta(minutes=1), now) <= 0:
        return 0  # outside the day shift nobody is expected to report
    cutoff = now - timedelta(minutes=cfg.offline_minutes)
    rows = session.execute(select(Worker.id, Worker.code, Worker.grid_id, Worker.last_fix_at, Worker.last_lat,
                                  Worker.last_lon).where(
        Worker.active.is_(True), Worker.duty_state != DutyState.OFFLINE, Worker.last_fix_at.is_not(None),
        Worker.last_fix_at <= cutoff)).all()
    comm = _grid_comm(session) if rows else {}
    return _raise_new(session, [dict(
        source="rule", kind="worker_offline", severity="moderate", title=f"网格员离线：{code}",
        description=f"在岗但最后定位于 {iso(last)}", lat=lat, lon=lon, grid_id=gid, community_id=comm.get(gid),
        worker_id=wid, dedupe_key=f"offline:{wid}:{as_utc(last).isoformat()}", now=now)
        for wid, code, gid, last, lat, lon in rows])


def grids_not_patrolled(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> int:
    """Grids without any fix for ``patrol_hours`` working hours (nights and holidays do not count),
    once the position history reaches back that far."""
    if cal.working_hours_between(now - timedelta(minutes=1), now) <= 0:
        return 0
    cutoff = cal.subtract_working_hours(now, cfg.patrol_hours)
    oldest = session.scalar(select(func.min(Position.received_at)))
    if oldest is None or oldest > cutoff:
        return 0  # not enough history to say a grid was not patrolled
    seen = set(session.scalars(select(Position.grid_id).where(Position.received_at >= cutoff,
                                                              Position.grid_id.is_not(None)).distinct()))
    day = local(now).date().isoformat()
    return _raise_new(session, [dict(
        source="rule", kind="not_patrolled", severity="minor", title=f"网格未巡查：{code} {name}",
        description=f"{cfg.patrol_hours:g} 个工作小时内无巡查轨迹（自 {iso(cutoff)}）", lat=lat, lon=lon, grid_id=gid,
        community_id=comm, dedupe_key=f"not_patrolled:{gid}:{day}", now=now)
        for gid, code, name, comm, lat, lon in session.execute(select(
            Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.centroid_lat, Grid.centroid_lon)).all()
        if gid not in seen])


def case_spike(session: Session, now: datetime, cfg: RuleConfig) -> int:
    """A grid with ≥ spike_min_cases in the window and ≥ spike_factor × its usual rate (previous 7 days)."""
    win = timedelta(minutes=cfg.spike_window_minutes)
    recent = dict(session.execute(select(Case.grid_id, func.count()).where(
        Case.created_at > now - win, Case.created_at <= now, Case.grid_id.is_not(None)).group_by(Case.grid_id)).all())
    hot = {g: k for g, k in recent.items() if k >= cfg.spike_min_cases}
    if not hot:
        return 0
    base = dict(session.execute(select(Case.grid_id, func.count()).where(
        Case.created_at > now - win - timedelta(days=7), Case.created_at <= now - win,
        Case.grid_id.in_(list(hot))).group_by(Case.grid_id)).all())
    windows = timedelta(days=7) / win
    grids = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(list(hot))))}
    slot = local(now).strftime("%Y%m%d%H")
    n = 0
    for gid, k in hot.items():
        usual = base.get(gid, 0) / windows
        if k >= cfg.spike_factor * usual:
            g = grids[gid]
            n += raise_alert(session, source="rule", kind="case_spike", severity="severe",
                             title=f"事件激增：{g.code} {g.name}",
                             description=f"{cfg.spike_window_minutes:g} 分钟内 {k} 件（平时约 {usual:.2f} 件）",
                             lat=g.centroid_lat, lon=g.centroid_lon, grid_id=gid, community_id=g.community_id,
                             dedupe_key=f"spike:{gid}:{slot}", data={"count": k, "usual": round(usual, 3)},
                             now=now)[1]
    return n


def clear_resolved_causes(session: Session, now: datetime, cfg: RuleConfig) -> int:
    """Resolve rule alerts whose cause is gone: case closed/void, dispatch acknowledged, worker reporting again."""
    rows = session.execute(select(Alert, Case.state).outerjoin(Case, Case.id == Alert.case_id).where(
        Alert.source == "rule", Alert.state != AlertState.RESOLVED,
        Alert.kind.in_(("overdue", "sla_warning", "no_ack", "worker_offline")))).all()
    if not rows:
        return 0
    dids = [int(a.dedupe_key.split(":")[1]) for a, _ in rows if a.kind == "no_ack" and a.dedupe_key]
    dstate = dict(session.execute(select(Dispatch.id, Dispatch.state).where(Dispatch.id.in_(dids))).all()) if dids else {}
    wids = [a.worker_id for a, _ in rows if a.kind == "worker_offline" and a.worker_id]
    wstate = {i: (st, last) for i, st, last in session.execute(select(Worker.id, Worker.duty_state, Worker.last_fix_at)
                                                                 .where(Worker.id.in_(wids)))} if wids else {}
    fresh = now - timedelta(minutes=cfg.offline_minutes)
    n = 0
    for a, case_state in rows:
        why = None
        if a.case_id and case_state in (CaseState.CLOSED, CaseState.VOID):
            why = "案卷已结案/作废"
        elif a.kind == "no_ack" and a.dedupe_key:
            st = dstate.get(int(a.dedupe_key.split(":")[1]))
            if st is not None and st != "sent":
                why = "已签收" if st != "cancelled" else "派遣已撤销"
        elif a.kind == "worker_offline" and a.worker_id in wstate:
            st, last = wstate[a.worker_id]
            if st == DutyState.OFFLINE:
                why = "网格员已下班"
            elif last is not None and last > fresh:
                why = "网格员已恢复定位"
        if why:
            resolve(session, a, by="规则", comment=why, now=now)
            n += 1
    return n


def run_rules(session: Session, *, now: datetime | None = None, calendar: WorkCalendar | None = None,
              config: RuleConfig | None = None) -> dict[str, int]:
    """Run every rule once; a failing rule is logged and the others still run. Returns new alerts per rule."""
    now = as_utc(now or utcnow())
    cal, cfg = calendar or WorkCalendar(), config or RuleConfig()
    jobs: dict[str, Callable[[], int]] = {
        "overdue_and_warning": lambda: overdue_and_warning(session, now, cal, cfg),
        "no_ack": lambda: no_acknowledgement(session, now, cfg),
        "worker_offline": lambda: offline_during_shift(session, now, cal, cfg),
        "not_patrolled": lambda: grids_not_patrolled(session, now, cal, cfg),
        "case_spike": lambda: case_spike(session, now, cfg),
        "cap_expired": lambda: expire_alerts(session, now=now),
        "cleared": lambda: clear_resolved_causes(session, now, cfg),
    }
    out = {}
    for name, job in jobs.items():
        try:
            with session.begin_nested():
                out[name] = job()
        except Exception:
            log.exception("alert rule %s failed", name)
            out[name] = -1
    return out


def run_loop(services, term: threading.Event) -> None:
    """The scheduler: run the rules every ``interval_s`` until ``term`` is set (leader process only)."""
    cfg = RuleConfig.from_extra(services.settings.extra)
    log.info("alert rules every %.0f s", cfg.interval_s)
    while not term.wait(cfg.interval_s):
        try:
            clock = getattr(services, "clock", None)
            with services.db.write(bulk=True) as s:
                res = run_rules(s, now=clock() if clock else None, calendar=services.calendar, config=cfg)
            if any(res.values()):
                log.info("alert rules: %s", res)
        except Exception:
            log.exception("alert rules run failed")
