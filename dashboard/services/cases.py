"""Cases: report (就地处置 or 上报), the closed-loop state machine, public views."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import events
from ..geo.coords import to_wgs84
from ..geo.locate import GridLocator
from ..masking import mask_name, mask_phone, mask_text
from ..models import Case, CaseLog, CaseState, Category, Dispatch, DutyState, Grid, Worker
from ..timeutil import iso, local, utcnow
from ..workcal import WorkCalendar
from .name_index import known_names
from .workers import set_duty

S = CaseState


class CaseError(ValueError):
    """Bad input for a case (HTTP 400/422); ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IllegalTransition(ValueError):
    """An action the case's current state does not allow (HTTP 409)."""


# action → (states it may start from, state it leads to); None keeps the state
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "register": (frozenset({S.REPORTED}), S.REGISTERED),                      # 立案
    "dispatch": (frozenset({S.REPORTED, S.REGISTERED}), S.DISPATCHED),          # 派遣
    "redispatch": (frozenset({S.DISPATCHED, S.HANDLING}), S.DISPATCHED),        # 改派
    "acknowledge": (frozenset({S.DISPATCHED}), S.HANDLING),                     # 签收
    "arrive": (frozenset({S.HANDLING}), None),                                  # 到场
    "handle": (frozenset({S.HANDLING}), None),                                  # 开始处置
    "feedback": (frozenset({S.HANDLING}), S.FEEDBACK),                          # 处置反馈
    "approve": (frozenset({S.FEEDBACK}), S.CLOSED),                             # 核查结案
    "reject": (frozenset({S.FEEDBACK}), S.DISPATCHED),                          # 核查不通过 → 返工
    "escalate": (frozenset({S.REPORTED, S.REGISTERED, S.DISPATCHED, S.HANDLING}), S.REPORTED),  # 上报上级
    "void": (frozenset({S.REPORTED, S.REGISTERED, S.DISPATCHED, S.HANDLING, S.FEEDBACK}), S.VOID),  # 作废
    "evaluate": (frozenset({S.CLOSED}), None),                                  # 综合评价
}
LEVELS = ("grid", "community", "street")


@dataclass
class CaseReport:
    """A validated report as it enters the domain (the API edge builds it)."""

    category_code: str
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    crs: str = "wgs84"
    address: str = ""
    source: str = "app"
    onsite: bool = False
    reporter_worker_id: int | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    priority: int | None = None
    idempotency_key: str | None = None
    media_url: str | None = None
    attributes: dict[str, Any] | None = None
    note: str = ""


def active_categories(session: Session) -> list[Category]:
    """The categories a case may be filed under, in code order."""
    return list(session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)))


def case_public(c: Case, *, grid: Grid | None = None, worker_names: dict[int, str] | None = None,
                detail: bool = False) -> dict[str, Any]:
    """What screens may see of a case: personal data masked on the server.

    Free text (description, address, timeline notes) is masked for the case's own people and for
    everyone in the name index; unmasking is the audited /api/v1/unmask, which reads the row.
    """
    names = worker_names or {}
    own = [c.reporter_name, names.get(c.reporter_worker_id), names.get(c.assigned_worker_id)]
    known = known_names(c)
    out = {
        "id": c.id, "code": c.code, "category_code": c.category_code,
        "category": c.category.name if c.category else None,
        "major": c.category.major_name if c.category else None, "priority": c.priority,
        "description": mask_text(c.description, own, known),
        "address": mask_text(c.address, own, known), "lat": c.lat, "lon": c.lon,
        "grid_id": c.grid_id, "grid_code": grid.code if grid else None, "grid_name": grid.name if grid else None,
        "community_id": c.community_id, "outside": c.outside, "source": c.source, "state": c.state,
        "level": c.level, "handled_onsite": c.handled_onsite,
        "reporter": mask_name(names.get(c.reporter_worker_id) if c.reporter_worker_id else c.reporter_name),
        "reporter_phone": mask_phone(c.reporter_phone),
        "assigned_worker_id": c.assigned_worker_id,
        "assigned_worker": mask_name(names.get(c.assigned_worker_id)) if c.assigned_worker_id else None,
        "department": c.department, "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
        "dispatched_at": iso(c.dispatched_at), "sla_due_at": iso(c.sla_due_at), "closed_at": iso(c.closed_at),
        "rework_count": c.rework_count, "photos": [p.id for p in c.photos],
        "photo_items": [{"id": p.id, "stage": p.stage} for p in c.photos],  # before | after, for the labels
        "category_unconfirmed": bool((c.attributes or {}).get("category_unconfirmed")),
        "outside_m": (c.attributes or {}).get("outside_m") if c.outside else None,
        "nearest_grid_id": (c.attributes or {}).get("nearest_grid_id") if c.outside else None,
    }
    if detail:
        people = set(names.values()) | ({c.reporter_name} if c.reporter_name else set())
        out["timeline"] = [
            {"at": iso(e.at), "action": e.action, "from": e.from_state, "to": e.to_state,
             "actor": mask_name(e.actor) if e.actor in people else known.mask(e.actor),
             "note": mask_text(e.note, people, known)}
            for e in c.timeline
        ]
    return out


def sla_due(c: Case, calendar: WorkCalendar | None) -> datetime | None:
    """The case's deadline by its category's clock: an urgent ("natural") category counts natural hours from the
    report, an ordinary one working hours on ``calendar`` from the first dispatch (None until dispatched)."""
    cat = c.category
    if cat.clock == "natural":
        return (calendar or WorkCalendar()).deadline(c.created_at, cat.time_limit_hours, "natural")
    if c.dispatched_at is None:
        return None
    return (calendar or WorkCalendar()).deadline(c.dispatched_at, cat.time_limit_hours, "working")


def _next_code(session: Session, now: datetime) -> str:
    events.lock_order(session)  # else concurrent reports on PostgreSQL count the same n (unique code clash)
    day = local(now).strftime("%Y%m%d")
    # a range, not LIKE 'day%': PostgreSQL uses the code index for it in any collation (1 s → 7 ms at 1M cases)
    today = Case.code.between(f"{day}00000", f"{day}99999")
    n = session.scalar(select(func.count()).select_from(Case).where(today)) or 0
    return f"{day}{n + 1:05d}"


def _emit(session: Session, c: Case, action: str) -> None:
    ids = {i for i in (c.reporter_worker_id, c.assigned_worker_id) if i}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(ids))).all()) if ids else {}
    grid = session.get(Grid, c.grid_id) if c.grid_id else None
    events.record(session, "case", {"action": action, "case": case_public(c, grid=grid, worker_names=names)},
                  community_id=c.community_id)


def _log(c: Case, action: str, actor: str, note: str, frm: str | None, to: str | None, now: datetime,
         data: dict | None = None) -> None:
    c.timeline.append(CaseLog(action=action, from_state=frm, to_state=to, actor=actor, note=note, at=now, data=data))


def report_case(session: Session, report: CaseReport, *, locator: GridLocator | None,
                now: datetime | None = None, actor: str = "") -> tuple[Case, bool]:
    """Record a report. Returns (case, created); a repeated idempotency key returns the first case."""
    now = now or utcnow()
    if report.idempotency_key:
        existing = session.scalar(select(Case).where(Case.idempotency_key == report.idempotency_key))
        if existing is not None:
            return existing, False
    category = session.get(Category, report.category_code)
    if category is None or not category.active:
        raise CaseError("category_code", f"unknown category {report.category_code!r}")
    lat, lon, grid_id, outside = report.lat, report.lon, None, False
    if (lat is None) != (lon is None):
        raise CaseError("lat" if lat is None else "lon", "give both lat and lon, or neither")
    if lat is not None:
        if not (-90 <= lat <= 90):
            raise CaseError("lat", "must be between -90 and 90")
        if not (-180 <= lon <= 180):
            raise CaseError("lon", "must be between -180 and 180")
        lat, lon = (float(v) for v in to_wgs84(lat, lon, report.crs))
        grid_id = locator.locate(lat, lon) if locator else None
        outside = grid_id is None
    attributes = report.attributes
    if outside and locator is not None and lat is not None:  # the console shows how far out, and the grid nearest
        near, dist = locator.nearest(lat, lon)
        if near is not None:
            attributes = {**(attributes or {}), "outside_m": round(dist), "nearest_grid_id": int(near)}
    reporter = session.get(Worker, report.reporter_worker_id) if report.reporter_worker_id else None
    if grid_id is None and reporter is not None and lat is None:
        grid_id = reporter.grid_id  # no location: the reporter's own grid
    grid = session.get(Grid, grid_id) if grid_id else None
    c = Case(code=_next_code(session, now), category_code=category.code,
             priority=report.priority or category.default_priority, description=report.description[:4000],
             address=report.address, lat=lat, lon=lon, grid_id=grid_id,
             community_id=grid.community_id if grid else None, outside=outside, source=report.source,
             reporter_worker_id=report.reporter_worker_id, reporter_name=report.reporter_name,
             reporter_phone=report.reporter_phone, reporter_email=report.reporter_email,
             idempotency_key=report.idempotency_key, media_url=report.media_url, attributes=attributes,
             created_at=now, updated_at=now, state=S.REPORTED, timeline=[], photos=[])
    session.add(c)
    who = actor or (reporter.name if reporter else report.source)
    _log(c, "report", who, report.note or report.description[:200], None, S.REPORTED, now)
    if report.onsite:
        c.state, c.handled_onsite, c.closed_at = S.CLOSED, True, now
        _log(c, "onsite", who, report.note, S.REPORTED, S.CLOSED, now)
    else:
        c.category = category
        c.sla_due_at = sla_due(c, None)  # an urgent category's clock runs from the report
    session.flush()
    _emit(session, c, "created")
    return c, True


def transition(session: Session, c: Case, action: str, *, actor: str, note: str = "",
               worker_id: int | None = None, department: str | None = None,
               calendar: WorkCalendar | None = None, now: datetime | None = None) -> Case:
    """Apply one action of the closed loop; an action the state does not allow raises IllegalTransition."""
    now = now or utcnow()
    if action not in TRANSITIONS:
        raise CaseError("action", f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    allowed, target = TRANSITIONS[action]
    if c.state not in allowed:
        raise IllegalTransition(f"case {c.code} is {c.state}; '{action}' needs one of {', '.join(sorted(allowed))}")
    frm = c.state
    if action in ("dispatch", "redispatch"):
        if worker_id is None and not department:
            raise CaseError("worker_id", "dispatch needs a worker_id or a department")
        if worker_id is not None and session.get(Worker, worker_id) is None:
            raise CaseError("worker_id", f"unknown worker {worker_id}")
        open_ = session.scalars(select(Dispatch).where(Dispatch.case_id == c.id, Dispatch.state != "done",
                                                       Dispatch.state != "cancelled")).all()
        for d in open_:
            d.state = "cancelled"
            _release(session, d.worker_id, now)
        session.add(Dispatch(case_id=c.id, worker_id=worker_id, department=department, by=actor, sent_at=now))
        c.assigned_worker_id, c.department = worker_id, department
        if c.dispatched_at is None:  # an ordinary category's clock starts at the first dispatch
            c.dispatched_at = now
            c.sla_due_at = sla_due(c, calendar)
        if worker_id is not None:
            set_duty(session, session.get(Worker, worker_id), DutyState.DISPATCHED, now=now)
    elif action == "register":
        c.registered_at = now
    elif action in ("acknowledge", "arrive", "handle", "feedback"):
        d = _current_dispatch(session, c)
        if d is not None:
            if action == "acknowledge":
                d.state, d.acknowledged_at = "acknowledged", now
            elif action == "arrive":
                if d.arrived_at is not None:
                    raise IllegalTransition(f"case {c.code}: arrival already recorded")
                d.state, d.arrived_at = "arrived", now
            elif action == "feedback":
                d.state, d.done_at = "done", now
            w = session.get(Worker, d.worker_id) if d.worker_id else None
            if w is not None:
                set_duty(session, w, {"acknowledge": DutyState.EN_ROUTE, "arrive": DutyState.ON_SCENE,
                                      "handle": DutyState.HANDLING, "feedback": DutyState.AVAILABLE}[action], now=now)
        if action == "feedback":
            c.feedback_at = now
    elif action == "approve":
        c.closed_at = now
    elif action == "reject":
        c.rework_count += 1
        d = session.scalars(select(Dispatch).where(Dispatch.case_id == c.id).order_by(Dispatch.id.desc())).first()
        if d is not None:  # back to the same hands for rework
            session.add(Dispatch(case_id=c.id, worker_id=d.worker_id, department=d.department, by=actor, sent_at=now))
            if d.worker_id:
                set_duty(session, session.get(Worker, d.worker_id), DutyState.DISPATCHED, now=now)
    elif action == "escalate":
        i = LEVELS.index(c.level) if c.level in LEVELS else 0
        if i + 1 >= len(LEVELS):
            raise IllegalTransition(f"case {c.code} is already at street level")
        c.level = LEVELS[i + 1]
        _cancel_open_dispatches(session, c, now)
    elif action == "void":
        if not note.strip():
            raise CaseError("note", "voiding a case needs a reason")
        _cancel_open_dispatches(session, c, now)
    if target is not None:
        c.state = target
    c.updated_at = now
    if action in ("register", "dispatch") and c.source == "resident":  # the center's first answer to a resident
        from .residents import note_first_response  # (residents builds on this module)

        note_first_response(session, c, now)
    _log(c, action, actor, note, frm, c.state, now,
         {"worker_id": worker_id, "department": department} if action in ("dispatch", "redispatch") else None)
    session.flush()
    _emit(session, c, action)
    return c


def _current_dispatch(session: Session, c: Case) -> Dispatch | None:
    return session.scalars(select(Dispatch).where(Dispatch.case_id == c.id, Dispatch.state.in_(
        ("sent", "acknowledged", "arrived"))).order_by(Dispatch.id.desc())).first()


def _cancel_open_dispatches(session: Session, c: Case, now: datetime) -> None:
    for d in session.scalars(select(Dispatch).where(Dispatch.case_id == c.id, Dispatch.state.in_(
            ("sent", "acknowledged", "arrived")))):
        d.state = "cancelled"
        _release(session, d.worker_id, now)


def _release(session: Session, worker_id: int | None, now: datetime) -> None:
    if worker_id:
        w = session.get(Worker, worker_id)
        if w is not None and w.duty_state in (DutyState.DISPATCHED, DutyState.EN_ROUTE, DutyState.ON_SCENE,
                                              DutyState.HANDLING):
            set_duty(session, w, DutyState.AVAILABLE, now=now)


def legal_actions(c: Case) -> list[str]:
    """The actions the case's current state allows (what the console offers as buttons)."""
    return [a for a, (allowed, _) in TRANSITIONS.items() if c.state in allowed
            and not (a == "escalate" and c.level == LEVELS[-1])]
