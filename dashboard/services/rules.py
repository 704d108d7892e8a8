"""Alert rules, run by the scheduler: each reads the DB in bulk and decides which alerts to raise, repeat or
resolve; the decisions are then written in bounded batches, each its own short transaction.

Rules: overdue case, SLA warning at 80 % of the limit, dispatch not acknowledged within N minutes, worker silent
during the shift, grid not patrolled for N hours, a spike of cases in one grid against that grid's own history for
the same hour of the week; CAP alerts past ``expires`` are cleared. Device SOS is raised at ingest
(services.positions). Rule alerts whose cause is gone (case closed, dispatch acknowledged, worker back, spike over)
are resolved.

Calm alerts (issue 27): one open alert per rule and subject (a repeat updates it, services.alerts.upsert_alert);
many alerts of one kind in one community at once (an overdue storm, a burst over several grids) fold into one
community alert, and the single ones it replaces are resolved as merged into it. Bounded passes (issue 26): a
storm of thousands of overdue cases is a few hundred community alerts written ``batch`` at a time, and a person's
write gets its turn between two batches (run_pass).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..masking import mask_name
from ..offload import turn, turns
from ..models import (Alert, AlertState, Case, CaseState, Category, Community, Dispatch, DutyState, Grid, Position,
                      Street, Worker)
from ..timeutil import as_utc, local, utcnow
from ..workcal import WorkCalendar
from .alerts import resolve, upsert_alert
from .cap import expire_alerts

log = logging.getLogger(__name__)
OPEN = [CaseState.DISPATCHED, CaseState.HANDLING, CaseState.FEEDBACK]
AWAITING = [CaseState.REPORTED, CaseState.REGISTERED]  # not dispatched yet
SEVERITY_RANK = {"minor": 0, "moderate": 1, "severe": 2, "extreme": 3}
BY = "规则"


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds; from GC_RULE_* settings (minutes, hours, counts)."""

    sla_warning_share: float = 0.8
    no_ack_minutes: float = 15.0
    offline_minutes: float = 20.0
    patrol_hours: float = 8.0
    spike_window_minutes: float = 60.0
    spike_min_cases: int = 5          # a spike needs at least this many cases in the window …
    spike_factor: float = 3.0         # … and this many times the grid's usual number for that hour of the week
    spike_floor: float = 1.0          # the usual number is never taken below this (a quiet grid's 0.0 is no baseline)
    spike_history_weeks: int = 4      # the same hour of the week, this many weeks back
    spike_fold_grids: int = 3         # this many grids of one community spiking at once: one community alert
    fold_threshold: int = 3           # more alerts of one kind in one community than this: one community alert
    street_fold_threshold: int = 6    # more than this over several communities (a storm): one street alert
    batch: int = 200                  # alerts written per transaction by the background pass, at most …
    batch_ms: float = 50.0            # … and for at most this long (then it commits and takes its next turn)
    time_scale: float = 1.0           # the simulator's speed: rule minutes are simulated minutes
    interval_s: float = 30.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, str], time_scale: float = 1.0) -> "RuleConfig":
        """Read GC_RULE_<FIELD> values (e.g. GC_RULE_NO_ACK_MINUTES=10)."""
        kw: dict[str, Any] = {"time_scale": max(1.0, time_scale)}
        for name, f in cls.__dataclass_fields__.items():
            raw = extra.get(f"GC_RULE_{name.upper()}")
            if raw:
                kw[name] = int(raw) if f.type in (int, "int") else float(raw)
        return cls(**kw)

    def minutes(self, m: float) -> timedelta:
        """``m`` simulated minutes on the server's clock."""
        return timedelta(minutes=m / self.time_scale)


@dataclass
class Decision:
    """What one rule decided: alerts to raise or repeat (upsert_alert arguments; ``size`` = how much of it there is,
    so an alert an operator resolved comes back only when it grows), and alerts to resolve (id, comment, merged)."""

    raise_: list[dict] = field(default_factory=list)
    resolve: list[tuple[int, str, bool]] = field(default_factory=list)


@dataclass
class Tally:
    created: int = 0
    merged: int = 0     # repeats folded into an open alert, and single alerts merged into a community alert
    cleared: int = 0


class Names:
    """Grid and community names and codes, read once per rule run."""

    def __init__(self, session: Session) -> None:
        self.grids = {r.id: r for r in turns(session.execute(select(
            Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.centroid_lat, Grid.centroid_lon)
            .execution_options(yield_per=500)))}
        self.communities = dict(session.execute(select(Community.id, Community.name)).all())
        self.street = session.scalar(select(Street.name).order_by(Street.id).limit(1)) or "街道"

    def grid(self, gid: int | None) -> str:
        g = self.grids.get(gid) if gid is not None else None
        return g.name if g is not None else "—"

    def community(self, cid: int | None) -> str:
        return self.communities.get(cid, "—") if cid is not None else "—"


def _list(names: list[str]) -> list[str]:
    """Names or codes for a text parameter (rendered as the first few and how many: services.alerts.render_text)."""
    return names[:500]


def _hm(t: datetime | None) -> str:
    return local(t).strftime("%m-%d %H:%M") if t is not None else "—"


def fold(session: Session, decision: Decision, kind: str, items: list[dict], cfg: RuleConfig, names: Names,
         summary: Callable[[int | None, list[dict]], dict], *, clear_empty: bool) -> None:
    """Put ``items`` (single alerts of ``kind``) into ``decision``: a community with more than ``fold_threshold`` of
    them, or with its community alert open already, gets one community alert (``summary``); more than
    ``street_fold_threshold`` over several communities (a storm) are one street alert. The open alerts a summary
    replaces are resolved as merged into it; with ``clear_empty`` a summary with nothing left is resolved. A
    summary stays until its kind is gone (no flapping between one and many)."""
    opened = {a.subject: a for a in session.scalars(select(Alert).where(
        Alert.kind == kind, Alert.state != AlertState.RESOLVED,
        or_(Alert.subject.like("community:%"), Alert.subject == "street")))}
    singles = or_(Alert.subject.is_(None), Alert.subject.not_like("community:%") & (Alert.subject != "street"))
    comms = {it.get("community_id") for it in items}
    turn()
    if items and ("street" in opened or (len(items) > cfg.street_fold_threshold and len(comms) > 1)):
        decision.raise_.append(summary(None, items))
        for a in session.scalars(select(Alert).where(Alert.kind == kind, Alert.state != AlertState.RESOLVED,
                                                     or_(singles, Alert.subject.like("community:%")))):
            decision.resolve.append((a.id, f"并入{names.street}告警", True))
        return
    if clear_empty and "street" in opened:
        decision.resolve.append((opened["street"].id, "已全部消除", False))
    folds = {a.community_id: a for subj, a in opened.items() if subj.startswith("community:")}
    by_comm: dict[int | None, list[dict]] = defaultdict(list)
    for it in turns(items):
        by_comm[it.get("community_id")].append(it)
    folded = set()
    for comm, its in by_comm.items():
        if comm is not None and (len(its) > cfg.fold_threshold or comm in folds):
            folded.add(comm)
            decision.raise_.append(summary(comm, its))
        else:
            decision.raise_.extend(its)
    if folded:
        for a in session.scalars(select(Alert).where(
                Alert.kind == kind, Alert.state != AlertState.RESOLVED, Alert.community_id.in_(folded), singles)):
            decision.resolve.append((a.id, f"并入{names.community(a.community_id)}社区告警", True))
    if clear_empty:
        for comm, a in folds.items():
            if comm not in folded:
                decision.resolve.append((a.id, "已全部消除", False))


def _summary(kind: str, text_key: str, names: Names, extra: Callable[[list[dict]], dict]):
    def make(comm: int | None, its: list[dict]) -> dict:
        sev = max((it["severity"] for it in its), key=lambda s: SEVERITY_RANK.get(s, 0))
        turn()  # a storm's 50,000 items: a turn for the other connections between the passes over them
        gids = sorted({it["grid_id"] for it in its if it.get("grid_id")})
        turn()
        lat = [it["lat"] for it in its if it.get("lat") is not None]
        lon = [it["lon"] for it in its if it.get("lon") is not None]
        turn()
        return dict(source="rule", kind=kind, severity=sev, subject=f"community:{comm}" if comm else "street",
                    community_id=comm, grid_ids=gids, lat=sum(lat) / len(lat) if lat else None,
                    lon=sum(lon) / len(lon) if lon else None, text_key=text_key,
                    text_params={"community": names.community(comm) if comm else names.street, "n": len(its),
                                 **extra(its)},
                    data={"size": len(its), "items": [it["subject"] for it in its][:500]}, size=len(its))
    return make


def overdue_and_warning(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> Decision:
    """Overdue cases (past sla_due_at) and the warning at ``sla_warning_share`` of the time limit; an overdue storm
    is one alert per community."""
    names = Names(session)
    rows = session.execute(select(Case.id, Case.code, Case.grid_id, Case.community_id, Case.lat, Case.lon,
                                  Case.created_at, Case.dispatched_at, Case.sla_due_at, Case.assigned_worker_id,
                                  Category.name, Category.time_limit_hours, Category.clock)
                           .join(Category, Category.code == Case.category_code)
                           .where(or_(Case.state.in_(OPEN), and_(Case.state.in_(AWAITING), Category.clock == "natural")),
                                  Case.sla_due_at.is_not(None))  # an urgent case's clock runs before dispatch
                           .execution_options(yield_per=500))  # rows made 500 at a time, between turns
    over, warn = [], []
    for r in turns(rows):  # a city's 50,000 overdue cases: the other connections get their turns meanwhile
        common = dict(source="rule", lat=r.lat, lon=r.lon, grid_id=r.grid_id, community_id=r.community_id,
                      case_id=r.id, worker_id=r.assigned_worker_id, subject=f"case:{r.id}", size=1)
        params = {"grid": names.grid(r.grid_id), "category": r.name, "code": r.code, "due": _hm(r.sla_due_at)}
        if r.sla_due_at <= now:
            over.append(dict(kind="overdue", severity="severe", text_key="alert.text.overdue", text_params=params,
                             dedupe_key=f"overdue:{r.id}", due=r.sla_due_at, **common))
        elif (r.clock == "natural" or r.dispatched_at is not None) and cal.deadline(  # urgent: from the report
                r.created_at if r.clock == "natural" else r.dispatched_at, r.time_limit_hours * cfg.sla_warning_share,
                r.clock) <= now:
            warn.append(dict(kind="sla_warning", severity="moderate", text_key="alert.text.sla_warning",
                             text_params={**params, "share": round(cfg.sla_warning_share * 100)},
                             dedupe_key=f"sla_warning:{r.id}", due=r.sla_due_at, **common))
    out = Decision()

    def codes(its: list[dict]) -> dict:
        its = sorted(its, key=lambda it: it["due"])
        turn()
        return {"due": _hm(its[0]["due"]), "codes": _list([it["text_params"]["code"] for it in its])}
    fold(session, out, "overdue", over, cfg, names, _summary("overdue", "alert.text.overdue_community", names, codes),
         clear_empty=True)
    fold(session, out, "sla_warning", warn, cfg, names,
         _summary("sla_warning", "alert.text.sla_warning_community", names, codes), clear_empty=True)
    return out


def no_acknowledgement(session: Session, now: datetime, cfg: RuleConfig) -> Decision:
    """Dispatches still 'sent' after ``no_ack_minutes``."""
    cutoff = now - cfg.minutes(cfg.no_ack_minutes)
    rows = session.execute(select(Dispatch.id, Dispatch.worker_id, Dispatch.sent_at, Case.id, Case.code,
                                  Case.grid_id, Case.community_id, Case.lat, Case.lon, Worker.code, Worker.name)
                           .join(Case, Case.id == Dispatch.case_id).join(Worker, Worker.id == Dispatch.worker_id)
                           .where(Dispatch.state == "sent", Dispatch.sent_at <= cutoff)).all()
    names = Names(session)
    items = [dict(
        source="rule", kind="no_ack", severity="moderate", text_key="alert.text.no_ack",
        text_params={"grid": names.grid(gid), "worker": f"{mask_name(wname) or ''} {wcode}".strip(), "code": code,
                     "sent": _hm(sent), "minutes": f"{cfg.no_ack_minutes:g}"},
        lat=lat, lon=lon, grid_id=gid, community_id=comm, case_id=cid, worker_id=wid, dedupe_key=f"no_ack:{did}",
        subject=f"dispatch:{did}", size=1)
        for did, wid, sent, cid, code, gid, comm, lat, lon, wcode, wname in rows]
    out = Decision()
    fold(session, out, "no_ack", items, cfg, names, _summary(
        "no_ack", "alert.text.no_ack_community", names,
        lambda its: {"due": min(it["text_params"]["sent"] for it in its),
                     "codes": _list([it["text_params"]["code"] for it in its])}), clear_empty=True)
    return out


def offline_during_shift(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> Decision:
    """On-duty workers whose phone has been silent for ``offline_minutes`` during working time."""
    out = Decision()
    if cal.working_hours_between(now - timedelta(minutes=1), now) <= 0:
        return out  # outside the day shift nobody is expected to report
    cutoff = now - cfg.minutes(cfg.offline_minutes)
    rows = session.execute(select(Worker.id, Worker.code, Worker.name, Worker.grid_id, Worker.last_fix_at,
                                  Worker.last_lat, Worker.last_lon).where(
        Worker.active.is_(True), Worker.duty_state != DutyState.OFFLINE, Worker.last_fix_at.is_not(None),
        Worker.last_fix_at <= cutoff)).all()
    names = Names(session)
    items = [dict(
        source="rule", kind="worker_offline", severity="moderate", text_key="alert.text.worker_offline",
        text_params={"grid": names.grid(gid), "worker": f"{mask_name(name) or ''} {code}".strip(), "last": _hm(last)},
        lat=lat, lon=lon, grid_id=gid, community_id=names.grids[gid].community_id if gid in names.grids else None,
        worker_id=wid, dedupe_key=f"offline:{wid}:{as_utc(last).isoformat()}", subject=f"worker:{wid}", size=1)
        for wid, code, name, gid, last, lat, lon in rows]
    fold(session, out, "worker_offline", items, cfg, names, _summary(
        "worker_offline", "alert.text.worker_offline_community", names,
        lambda its: {"due": min(it["text_params"]["last"] for it in its),
                     "codes": _list([it["text_params"]["worker"] for it in its])}), clear_empty=True)
    return out


def grids_not_patrolled(session: Session, now: datetime, cal: WorkCalendar, cfg: RuleConfig) -> Decision:
    """Grids without any fix for ``patrol_hours`` working hours (nights and holidays do not count),
    once the position history reaches back that far."""
    out = Decision()
    if cal.working_hours_between(now - timedelta(minutes=1), now) <= 0:
        return out
    cutoff = cal.subtract_working_hours(now, cfg.patrol_hours)
    oldest = session.scalar(select(func.min(Position.received_at)))
    if oldest is None or oldest > cutoff:
        return out  # not enough history to say a grid was not patrolled
    seen = set(session.scalars(select(Position.grid_id).where(Position.received_at >= cutoff,
                                                              Position.grid_id.is_not(None)).distinct()))
    day = local(now).date().isoformat()
    names = Names(session)
    hours, since = f"{cfg.patrol_hours:g}", _hm(cutoff)
    items = [dict(
        source="rule", kind="not_patrolled", severity="minor", text_key="alert.text.not_patrolled",
        text_params={"grid": g.name, "hours": hours, "since": since, "code": g.code}, lat=g.centroid_lat,
        lon=g.centroid_lon, grid_id=gid, community_id=g.community_id, dedupe_key=f"not_patrolled:{gid}:{day}",
        subject=f"grid:{gid}", size=1)
        for gid, g in sorted(names.grids.items()) if gid not in seen]
    fold(session, out, "not_patrolled", items, cfg, names, _summary(
        "not_patrolled", "alert.text.not_patrolled_community", names,
        lambda its: {"hours": hours, "since": since, "names": _list([names.grid(it["grid_id"]) for it in its])}),
        clear_empty=False)
    return out


def _counts(session: Session, col, start: datetime, end: datetime, only: list[int] | None = None) -> dict[int, int]:
    q = select(col, func.count()).where(Case.created_at > start, Case.created_at <= end, col.is_not(None))
    if only is not None:
        q = q.where(col.in_(only))
    return dict(session.execute(q.group_by(col)).all())


def usual_counts(session: Session, col, ids: list[int], now: datetime, cfg: RuleConfig) -> dict[int, float]:
    """Each grid's (or community's) usual number of cases in the window ending ``now``: the mean over the same
    window of the week, ``spike_history_weeks`` weeks back (as far as the history reaches), never below the
    floor."""
    win = cfg.minutes(cfg.spike_window_minutes)
    oldest = session.scalar(select(func.min(Case.created_at)))
    total: dict[int, int] = defaultdict(int)
    weeks = 0
    for k in range(1, cfg.spike_history_weeks + 1):
        end = now - timedelta(days=7 * k)
        if oldest is None or end - win < oldest:
            break  # the history does not reach this week's window
        weeks += 1
        for i, n in _counts(session, col, end - win, end, ids).items():
            total[i] += n
    return {i: max(cfg.spike_floor, total[i] / weeks if weeks else 0.0) for i in ids}


def _spiking(count: int, usual: float, cfg: RuleConfig) -> bool:
    return count >= cfg.spike_min_cases and count >= cfg.spike_factor * usual


def _spike_severity(count: int, usual: float, cfg: RuleConfig) -> str:
    return "severe" if count >= 2 * cfg.spike_min_cases and count >= 2 * cfg.spike_factor * usual else "moderate"


def case_spike(session: Session, now: datetime, cfg: RuleConfig) -> Decision:
    """A grid with at least ``spike_min_cases`` in the window and ``spike_factor`` × its usual number for that hour
    of the week; ``spike_fold_grids`` grids of one community at once are one community alert (with the
    community's own count and usual number). An open spike alert is updated as cases keep coming; once its grid
    has been quiet for two windows it is resolved; an alert an operator resolved comes back only if the count
    grows past what it said."""
    out = Decision()
    win = cfg.minutes(cfg.spike_window_minutes)
    hours = f"{cfg.spike_window_minutes / 60:g}"
    recent = _counts(session, Case.grid_id, now - win, now)
    candidates = [g for g, k in recent.items() if k >= cfg.spike_min_cases]
    usual = usual_counts(session, Case.grid_id, candidates, now, cfg) if candidates else {}
    hot = {g: recent[g] for g in candidates if _spiking(recent[g], usual[g], cfg)}
    names = Names(session) if hot else None
    by_comm: dict[int | None, list[int]] = defaultdict(list)
    for g in sorted(hot):
        by_comm[names.grids[g].community_id if names and g in names.grids else None].append(g)
    open_spikes = list(session.scalars(select(Alert).where(Alert.kind == "case_spike",
                                                           Alert.state != AlertState.RESOLVED)))
    open_fold = {a.community_id for a in open_spikes if (a.subject or "").startswith("community:")}
    said = {a.subject: (a.data or {}).get("count", 0) for a in open_spikes}  # an open alert only grows: the window
    live: set[str] = set()                                                 # sliding past old cases is no news
    for comm, gids in by_comm.items():
        assert names is not None
        if comm is not None and (len(gids) >= cfg.spike_fold_grids or comm in open_fold):
            ccount = _counts(session, Case.community_id, now - win, now, [comm]).get(comm, 0)
            cusual = usual_counts(session, Case.community_id, [comm], now, cfg)[comm]
            g0 = [names.grids[g] for g in gids]
            subject = f"community:{comm}"
            live.add(subject)
            if ccount > said.get(subject, 0) or comm not in open_fold:
                out.raise_.append(dict(
                    source="rule", kind="case_spike", severity=_spike_severity(ccount, cusual, cfg),
                    subject=subject, community_id=comm, grid_ids=gids, lat=sum(g.centroid_lat for g in g0) / len(g0),
                    lon=sum(g.centroid_lon for g in g0) / len(g0), text_key="alert.text.case_spike_community",
                    text_params={"community": names.community(comm), "grids": len(gids), "hours": hours,
                                 "count": ccount, "usual": f"{cusual:.1f}",
                                 "names": _list([names.grid(g) for g in gids])},
                    data={"count": ccount, "usual": round(cusual, 3), "grids": {str(g): hot[g] for g in gids},
                          "size": ccount}, size=ccount))
            for a in open_spikes:
                if a.community_id == comm and (a.subject or "").startswith("grid:"):
                    out.resolve.append((a.id, f"并入{names.community(comm)}社区告警", True))
                    live.add(a.subject or "")
            continue
        for g in gids:
            grid = names.grids[g]
            subject = f"grid:{g}"
            live.add(subject)
            if hot[g] <= said.get(subject, 0):
                continue
            out.raise_.append(dict(
                source="rule", kind="case_spike", severity=_spike_severity(hot[g], usual[g], cfg), subject=subject,
                grid_id=g, community_id=grid.community_id, lat=grid.centroid_lat, lon=grid.centroid_lon,
                text_key="alert.text.case_spike", text_params={"grid": grid.name, "hours": hours, "count": hot[g],
                                                                "usual": f"{usual[g]:.1f}", "code": grid.code},
                data={"count": hot[g], "usual": round(usual[g], 3), "size": hot[g]}, size=hot[g]))
    quiet = now - 2 * win
    for a in open_spikes:
        if a.subject not in live and as_utc(a.last_at or a.created_at) <= quiet:
            out.resolve.append((a.id, "事件激增已平息", False))
    return out


def clear_resolved_causes(session: Session, now: datetime, cfg: RuleConfig) -> Decision:
    """Resolve rule alerts whose cause is gone: case closed/void, dispatch acknowledged, worker reporting again."""
    out = Decision()
    rows = session.execute(select(Alert, Case.state).outerjoin(Case, Case.id == Alert.case_id).where(
        Alert.source == "rule", Alert.state != AlertState.RESOLVED,
        Alert.kind.in_(("overdue", "sla_warning", "no_ack", "worker_offline")))).all()
    if not rows:
        return out
    dids = [int(a.dedupe_key.split(":")[1]) for a, _ in rows if a.kind == "no_ack" and a.dedupe_key]
    dstate = dict(session.execute(select(Dispatch.id, Dispatch.state).where(Dispatch.id.in_(dids))).all()) if dids else {}
    wids = [a.worker_id for a, _ in rows if a.kind == "worker_offline" and a.worker_id]
    wstate = {i: (st, last) for i, st, last in session.execute(select(Worker.id, Worker.duty_state, Worker.last_fix_at)
                                                                 .where(Worker.id.in_(wids)))} if wids else {}
    fresh = now - cfg.minutes(cfg.offline_minutes)
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
            out.resolve.append((a.id, why, False))
    return out


def _quiet_after_resolve(session: Session, items: list[dict], cfg: RuleConfig, now: datetime) -> list[dict]:
    """Drop subject alerts an operator resolved within the last few windows that have not grown since."""
    subj = [it for it in items if it.get("subject") and not it.get("dedupe_key")]
    if not subj:
        return items
    since = now - 3 * cfg.minutes(cfg.spike_window_minutes)
    last: dict[tuple[str, str], int] = {}
    for kind, subject, data in session.execute(select(Alert.kind, Alert.subject, Alert.data).where(
            Alert.state == AlertState.RESOLVED, Alert.resolved_at >= since,
            Alert.subject.in_([it["subject"] for it in subj]))):
        size = (data or {}).get("size", 0)
        last[(kind, subject)] = max(last.get((kind, subject), 0), size if isinstance(size, int) else 0)
    return [it for it in items if not (it.get("subject") and not it.get("dedupe_key")
                                       and (it["kind"], it["subject"]) in last
                                       and it.get("size", 0) <= last[(it["kind"], it["subject"])])]


def apply(session: Session, decision: Decision, now: datetime, cfg: RuleConfig, tally: Tally, *,
          deadline: float | None = None) -> tuple[int, int]:
    """Write a decision (one batch of it); returns how many of its raises and resolves were written — all of them,
    unless ``deadline`` (time.monotonic) came first: then the caller commits and goes on in a new transaction.
    Open alerts that would not change and causes alerted once already are skipped with one query per batch (the
    steady state of a pass touches nothing)."""
    items = decision.raise_
    keep = {id(it) for it in _quiet_after_resolve(session, items, cfg, now)}
    subjects = [it["subject"] for it in items if it.get("subject")]
    current = {(a.kind, a.subject): a for a in session.scalars(select(Alert).where(
        Alert.state != AlertState.RESOLVED, Alert.subject.in_(subjects)))} if subjects else {}
    keys = [it["dedupe_key"] for it in items if it.get("dedupe_key")]
    taken = set(session.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(keys)))) if keys else set()
    wids = {it["worker_id"] for it in items if it.get("worker_id")}
    held = list(session.scalars(select(Worker).where(Worker.id.in_(wids)))) if wids else []  # noqa: F841 - the
    # alerts' events name their workers: loaded here at once, not one query per alert
    done_raise = done_resolve = 0
    for it in items:
        if deadline is not None and done_raise and time.monotonic() > deadline:
            return done_raise, 0
        done_raise += 1
        if id(it) not in keep:
            continue
        it = {k: v for k, v in it.items() if k not in ("size", "due")}
        a = current.get((it["kind"], it.get("subject")))
        if a is not None and a.severity == it["severity"] and (a.text_params or None) == it.get("text_params"):
            continue
        if a is None and it.get("dedupe_key") in taken:
            continue  # raised once already (and resolved): a cause is alerted once
        _, outcome = upsert_alert(session, now=now, fresh=a is None, **it)
        if outcome == "created":
            tally.created += 1
        elif outcome == "updated":
            tally.merged += 1
    for alert_id, why, merged in decision.resolve:
        if deadline is not None and (done_raise or done_resolve) and time.monotonic() > deadline:
            break
        done_resolve += 1
        a = session.get(Alert, alert_id)
        if a is not None and a.state != AlertState.RESOLVED:
            resolve(session, a, by=BY, comment=why, now=now)
            if merged:
                tally.merged += 1
            else:
                tally.cleared += 1
    return done_raise, done_resolve


RULES: dict[str, Callable[[Session, datetime, WorkCalendar, RuleConfig], Decision]] = {
    "overdue_and_warning": overdue_and_warning,
    "no_ack": lambda s, now, cal, cfg: no_acknowledgement(s, now, cfg),
    "worker_offline": offline_during_shift,
    "not_patrolled": grids_not_patrolled,
    "case_spike": lambda s, now, cal, cfg: case_spike(s, now, cfg),
    "cleared": lambda s, now, cal, cfg: clear_resolved_causes(s, now, cfg),
}


def run_rules(session: Session, *, now: datetime | None = None, calendar: WorkCalendar | None = None,
              config: RuleConfig | None = None) -> dict[str, int]:
    """Run every rule once in ``session`` (tests, small streets); a failing rule is logged and the others still
    run. Returns the new alerts per rule ("cleared": the alerts resolved because their cause is gone) and
    "merged": repeats folded into open alerts and single alerts merged into community ones."""
    now = as_utc(now or utcnow())
    cal, cfg = calendar or WorkCalendar(), config or RuleConfig()
    out, tally = {}, Tally()
    for name, rule in RULES.items():
        try:
            with session.begin_nested():
                before, before_c = tally.cleared, tally.created
                apply(session, rule(session, now, cal, cfg), now, cfg, tally)
                out[name] = tally.cleared - before if name == "cleared" else tally.created - before_c
        except Exception:
            log.exception("alert rule %s failed", name)
            out[name] = -1
    try:
        with session.begin_nested():
            out["cap_expired"] = expire_alerts(session, now=now)
    except Exception:
        log.exception("alert rule cap_expired failed")
        out["cap_expired"] = -1
    out["merged"] = tally.merged
    return out


def run_pass(db, *, now: datetime | None = None, calendar: WorkCalendar | None = None,
             config: RuleConfig | None = None) -> dict[str, int]:
    """Run every rule once as the scheduler does: each rule reads in a read session, then writes its decision in
    batches of at most ``batch`` alerts and ``batch_ms`` milliseconds, each a short write transaction of its own
    (a background write on SQLite, so a person's waiting write goes first) — a report posted meanwhile waits for
    one batch at most, never for the whole pass."""
    now = as_utc(now or utcnow())
    cal, cfg = calendar or WorkCalendar(), config or RuleConfig()
    out, tally = {}, Tally()
    step = max(1, cfg.batch)
    for name, rule in RULES.items():
        try:
            with db.read() as s:
                d = rule(s, now, cal, cfg)
            before_c, before_cl = tally.created, tally.cleared
            raises, resolves = d.raise_, d.resolve
            while raises or resolves:
                with db.write(bulk=True) as s:
                    n_raise, n_resolve = apply(s, Decision(raises[:step], resolves[:step]), now, cfg, tally,
                                               deadline=time.monotonic() + cfg.batch_ms / 1000)
                raises, resolves = raises[n_raise:], resolves[n_resolve:]
            out[name] = tally.cleared - before_cl if name == "cleared" else tally.created - before_c
        except Exception:
            log.exception("alert rule %s failed", name)
            out[name] = -1
    try:
        with db.write(bulk=True) as s:
            out["cap_expired"] = expire_alerts(s, now=now)
    except Exception:
        log.exception("alert rule cap_expired failed")
        out["cap_expired"] = -1
    out["merged"] = tally.merged
    return out


def run_loop(services, term: threading.Event) -> None:
    """The scheduler: run the rules every ``interval_s`` until ``term`` is set (leader process only). With the
    simulator running faster than the clock, the rules' minutes and their interval are simulated ones too."""
    settings = services.settings
    scale = settings.sim_speed if getattr(settings, "simulate", False) else 1.0
    cfg = RuleConfig.from_extra(settings.extra, time_scale=scale)
    interval = max(2.0, cfg.interval_s / cfg.time_scale)
    log.info("alert rules every %.0f s", interval)
    while not term.wait(interval):
        try:
            clock = getattr(services, "clock", None)
            res = run_pass(services.db, now=clock() if clock else None, calendar=services.calendar, config=cfg)
            if any(v for k, v in res.items()):
                log.info("alert rules: %s", res)
        except Exception:
            log.exception("alert rules run failed")
