"""Mouse-patrol tours: build or generate a tour, run it stop by stop, and daily coverage per grid.

Coverage counts foot patrols (workers whose fixes fell in the grid that day, from the
position_day rollup) and mouse patrols (stops logged by operators, indexed by day and
grid) side by side, per grid and day.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from .. import events
from ..geo.locate import GridLocator
from ..models import Camera, Case, CaseState, Category, Grid, PatrolStopLog, PatrolTour
from ..models.position_day import NO_GRID, PositionDay
from ..offload import turns
from ..timeutil import iso, local, local_today, utcnow
from ..masking import mask_text
from .cases import CaseReport, report_case
from .name_index import known_names

OPEN_STATES = [s.value for s in CaseState if s.is_open]
GENERATORS = ("open_cases", "unpatrolled", "community")
GENERATED_NAMES = {"open_cases": "未结事件最多的网格", "unpatrolled": "今日未巡网格", "community": "社区网格巡查"}
RESULTS = ("ok", "issue")
MAX_STOPS = 100
DEFAULT_DWELL_S = 20
CAMERAS_PER_STOP = 4


class TourError(ValueError):
    """Bad input for a tour (HTTP 400/422); ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class TourStateError(ValueError):
    """An action the tour's state does not allow (HTTP 409)."""


def tour_public(t: PatrolTour, grids: dict[int, Grid] | None = None) -> dict[str, Any]:
    """A tour as screens see it, each stop with its grid's name and centre."""
    grids, known = grids or {}, known_names(t)
    stops = []
    for s in t.stops or []:
        g = grids.get(s["grid_id"])
        stops.append({**s, "grid_code": g.code if g else None, "grid_name": g.name if g else None,
                      "center": [g.centroid_lat, g.centroid_lon] if g else None})
    return {"id": t.id, "name": mask_text(t.name, (), known), "kind": t.kind, "state": t.state, "stops": stops,
            "no_camera_stops": sum(1 for s in stops if not s.get("camera_ids")),
            "current": t.current, "created_by": known.mask(t.created_by), "created_at": iso(t.created_at),
            "operator": known.mask(t.operator),
            "started_at": iso(t.started_at), "finished_at": iso(t.finished_at)}


def grids_of(session: Session, tours: list[PatrolTour]) -> dict[int, Grid]:
    """The grids the stops of these tours visit, in one query."""
    ids = {s["grid_id"] for t in tours for s in (t.stops or [])}
    return {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(ids)))} if ids else {}


def tour_community(t: PatrolTour, grids: dict[int, Grid]) -> int | None:
    """The one community every stop of a tour lies in; None for a tour across communities (the street's)."""
    comms = {grids[s["grid_id"]].community_id for s in (t.stops or []) if s["grid_id"] in grids}
    return comms.pop() if len(comms) == 1 else None


def tours_of(session: Session, *, community_id: int | None = None,
             limit: int = 100) -> tuple[list[PatrolTour], dict[int, Grid]]:
    """The newest tours and the grids they visit; with ``community_id`` only tours wholly inside it.

    A tour's community is where its stops are (tours have no column of their own), so a community's
    list is read newest first in chunks until ``limit`` of its tours are found.
    """
    q = select(PatrolTour).order_by(PatrolTour.id.desc())
    if community_id is None:
        rows = list(session.scalars(q.limit(limit)))
        return rows, grids_of(session, rows)
    out: list[PatrolTour] = []
    grids: dict[int, Grid] = {}
    offset, chunk = 0, max(limit, 200)
    while len(out) < limit:
        rows = list(session.scalars(q.offset(offset).limit(chunk)))
        if not rows:
            break
        grids.update(grids_of(session, rows))
        out += [t for t in rows if tour_community(t, grids) == community_id]
        offset += chunk
    return out[:limit], grids


def stop_log_public(e: PatrolStopLog, grid: Grid | None = None) -> dict[str, Any]:
    """A patrol-log entry as screens see it: the operator's note and name masked."""
    known = known_names(e)
    return {"id": e.id, "tour_id": e.tour_id, "stop_index": e.stop_index, "operator": known.mask(e.operator),
            "at": iso(e.at), "day": e.day.isoformat(), "grid_id": e.grid_id, "grid_name": grid.name if grid else None,
            "result": e.result, "note": mask_text(e.note, (), known), "auto": e.auto,
            "case_id": e.case_id, "camera_ids": e.camera_ids or []}


def normalise_stops(session: Session, stops: Any) -> list[dict[str, Any]]:
    """Validate stops ``[{"grid_id", "camera_ids"?, "dwell_s"?}]``; cameras default to the grid's own."""
    if not isinstance(stops, list) or not stops:
        raise TourError("stops", "give a non-empty list of stops")
    if len(stops) > MAX_STOPS:
        raise TourError("stops", f"at most {MAX_STOPS} stops")
    grid_ids = []
    for i, s in enumerate(stops):
        if not isinstance(s, dict) or not isinstance(s.get("grid_id"), int) or isinstance(s.get("grid_id"), bool):
            raise TourError(f"stops[{i}].grid_id", "must be an integer grid id")
        dwell = s.get("dwell_s", DEFAULT_DWELL_S)
        if not isinstance(dwell, (int, float)) or isinstance(dwell, bool) or not (1 <= dwell <= 3600):
            raise TourError(f"stops[{i}].dwell_s", "must be a number of seconds between 1 and 3600")
        cams = s.get("camera_ids")
        if cams is not None and (not isinstance(cams, list) or not all(isinstance(c, int) for c in cams)):
            raise TourError(f"stops[{i}].camera_ids", "must be a list of camera ids")
        grid_ids.append(s["grid_id"])
    known = set(session.scalars(select(Grid.id).where(Grid.id.in_(grid_ids))))
    for i, gid in enumerate(grid_ids):
        if gid not in known:
            raise TourError(f"stops[{i}].grid_id", f"unknown grid {gid}")
    cams_by_grid: dict[int, list[int]] = {}
    for cid, gid in session.execute(select(Camera.id, Camera.grid_id).where(Camera.grid_id.in_(grid_ids))
                                    .order_by(Camera.code)):
        cams_by_grid.setdefault(gid, []).append(cid)
    out = []
    for i, s in enumerate(stops):
        own = cams_by_grid.get(s["grid_id"], [])
        cams = s.get("camera_ids")
        if cams is None:
            cams = own[:CAMERAS_PER_STOP]
        else:
            bad = [c for c in cams if c not in own]
            if bad:
                raise TourError(f"stops[{i}].camera_ids", f"cameras {bad} are not in grid {s['grid_id']}")
        out.append({"grid_id": s["grid_id"], "camera_ids": cams, "dwell_s": float(s.get("dwell_s", DEFAULT_DWELL_S))})
    return out


def create_tour(session: Session, *, name: str, stops: Any, created_by: str, kind: str = "manual") -> PatrolTour:
    """Save a tour built by hand (or by a generator)."""
    name = (name or "").strip()
    if not name:
        raise TourError("name", "a tour needs a name")
    t = PatrolTour(name=name[:128], kind=kind, stops=normalise_stops(session, stops), created_by=created_by,
                   created_at=utcnow(), state="draft", current=0)
    session.add(t)
    session.flush()
    return t


def foot_coverage(session: Session, day: date, grid_ids: list[int] | None = None) -> dict[int, int]:
    """grid id → number of workers whose fixes fell in it that day (foot patrol).

    Read from the per-day rollup kept at ingest (position_day), not by grouping the day's fixes.
    """
    q = select(PositionDay.grid_id, func.count(distinct(PositionDay.worker_id))).where(
        PositionDay.day == day, PositionDay.grid_id != NO_GRID).group_by(PositionDay.grid_id)
    if grid_ids is not None:
        q = q.where(PositionDay.grid_id.in_(grid_ids))
    return {int(g): int(n) for g, n in session.execute(q)}


def mouse_coverage(session: Session, day: date, grid_ids: list[int] | None = None) -> dict[int, int]:
    """grid id → number of mouse-patrol stops logged in it that day."""
    q = select(PatrolStopLog.grid_id, func.count()).where(PatrolStopLog.day == day).group_by(PatrolStopLog.grid_id)
    if grid_ids is not None:
        q = q.where(PatrolStopLog.grid_id.in_(grid_ids))
    return {int(g): int(n) for g, n in session.execute(q)}


def coverage(session: Session, day: date | None = None, *, community_id: int | None = None) -> list[dict[str, Any]]:
    """Per grid for one day: foot patrols and mouse patrols side by side (every grid, zeros included)."""
    day = day or local_today()
    q = select(Grid.id, Grid.code, Grid.name, Grid.community_id).order_by(Grid.code)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    grids = list(turns(session.execute(q.execution_options(yield_per=500))))  # a city's 10,000, between turns
    ids = [g.id for g in grids] if community_id is not None else None
    foot, mouse = foot_coverage(session, day, ids), mouse_coverage(session, day, ids)
    return [{"grid_id": g.id, "code": g.code, "name": g.name, "community_id": g.community_id,
             "foot": foot.get(g.id, 0), "mouse": mouse.get(g.id, 0)} for g in turns(grids)]


def generate_stops(session: Session, kind: str, *, limit: int = 10, community_id: int | None = None,
                   dwell_s: float = DEFAULT_DWELL_S, now: datetime | None = None) -> list[dict[str, Any]]:
    """Stops for a generated tour: grids with most open cases, grids nobody patrolled today, or a community's
    grids — the first two within ``community_id`` when given."""
    if kind not in GENERATORS:
        raise TourError("kind", f"one of {', '.join(GENERATORS)}")
    if not (1 <= limit <= MAX_STOPS):
        raise TourError("limit", f"between 1 and {MAX_STOPS}")
    if kind == "open_cases":
        q = select(Case.grid_id, func.count().label("n")).where(Case.state.in_(OPEN_STATES), Case.grid_id.is_not(None))
        if community_id is not None:
            q = q.where(Case.community_id == community_id)
        rows = session.execute(q.group_by(Case.grid_id).order_by(func.count().desc(), Case.grid_id).limit(limit)).all()
        grid_ids = [r[0] for r in rows]
    elif kind == "unpatrolled":
        day = local_today(now)
        done = set(foot_coverage(session, day)) | set(mouse_coverage(session, day))
        # grids with cameras first: a mouse patrol looks through cameras, and a stop without any shows nothing
        # (the tour says how many of its stops have none: no_camera_stops)
        with_cams = set(session.scalars(select(Camera.grid_id).where(Camera.grid_id.is_not(None)).distinct()))
        gq = select(Grid.id).order_by(Grid.code)
        if community_id is not None:
            gq = gq.where(Grid.community_id == community_id)
        todo = [g for g in session.scalars(gq) if g not in done]
        grid_ids = sorted(todo, key=lambda g: g not in with_cams)[:limit]  # stable: by code within each
    else:
        if community_id is None:
            raise TourError("community_id", "a community tour needs a community_id")
        grid_ids = list(session.scalars(select(Grid.id).where(Grid.community_id == community_id)
                                        .order_by(Grid.code).limit(limit)))
        if not grid_ids:
            raise TourError("community_id", f"community {community_id} has no grids")
    return [{"grid_id": g, "dwell_s": dwell_s} for g in grid_ids]


def _require_state(t: PatrolTour, *allowed: str) -> None:
    if t.state not in allowed:
        raise TourStateError(f"tour {t.id} is {t.state}; this needs {' or '.join(allowed)}")


def start_tour(session: Session, t: PatrolTour, *, operator: str, now: datetime | None = None) -> PatrolTour:
    """draft/finished → running from the first stop."""
    _require_state(t, "draft", "finished")
    t.state, t.operator, t.started_at, t.finished_at, t.current = "running", operator, now or utcnow(), None, 0
    _emit(session, t, "started")
    return t


def pause_tour(session: Session, t: PatrolTour, *, resume: bool = False, reason: str = "") -> PatrolTour:
    """running ⇄ paused (a new alert pauses a tour)."""
    _require_state(t, "paused" if resume else "running")
    t.state = "running" if resume else "paused"
    _emit(session, t, "resumed" if resume else "paused", {"reason": reason})
    return t


def mark_stop(session: Session, t: PatrolTour, index: int, *, result: str, operator: str, note: str = "",
              auto: bool = False, category_code: str | None = None, locator: GridLocator | None = None,
              now: datetime | None = None) -> tuple[PatrolStopLog, Case | None]:
    """Log one stop; "issue" opens a prefilled case at that grid (source operator)."""
    now = now or utcnow()
    _require_state(t, "running", "paused")
    if result not in RESULTS:
        raise TourError("result", f"one of {', '.join(RESULTS)}")
    if not (0 <= index < len(t.stops)):
        raise TourError("index", f"stop {index} is not in this tour of {len(t.stops)} stops")
    stop = t.stops[index]
    grid = session.get(Grid, stop["grid_id"])
    case = None
    if result == "issue":
        unconfirmed = False
        if not category_code:  # the operator's note says what it is, else the console's triage decides
            from .triage import guess_category
            category_code = guess_category(session, note)
            unconfirmed = category_code is None
        cat = session.get(Category, category_code) if category_code else session.scalar(
            select(Category).where(Category.active.is_(True)).order_by(Category.code).limit(1))
        if cat is None:
            raise TourError("category_code", f"unknown category {category_code!r}")
        spot = shape(grid.boundary).representative_point()  # inside the grid even when it is concave
        text = f"鼠标巡逻发现问题：{grid.name}" + (f"。{note.strip()}" if note.strip() else "")
        case, _ = report_case(session, CaseReport(
            category_code=cat.code, description=text, lat=spot.y, lon=spot.x,
            address=grid.name, source="operator", note=note,
            attributes={"tour_id": t.id, "stop": index, **({"category_unconfirmed": True} if unconfirmed else {})}),
            locator=locator, now=now, actor=operator)
    entry = PatrolStopLog(tour_id=t.id, stop_index=index, operator=operator, at=now, day=local(now).date(),
                          grid_id=grid.id, result=result, note=note[:2000], auto=auto,
                          case_id=case.id if case else None, camera_ids=stop.get("camera_ids") or [])
    session.add(entry)
    t.current = index + 1
    if t.current >= len(t.stops):
        t.state, t.finished_at = "finished", now
    session.flush()
    events.record(session, "patrol", {"action": "stop", "tour_id": t.id, "tour_state": t.state,
                                      "stop": stop_log_public(entry, grid)}, community_id=grid.community_id)
    return entry, case


def finish_tour(session: Session, t: PatrolTour, *, now: datetime | None = None) -> PatrolTour:
    """Stop a tour early (its logged stops stay)."""
    _require_state(t, "running", "paused")
    t.state, t.finished_at = "finished", now or utcnow()
    _emit(session, t, "finished")
    return t


def stop_log(session: Session, *, tour_id: int | None = None, day: date | None = None,
             community_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Logged stops, newest first (of one tour, or of one day; of one community's grids if given)."""
    q = select(PatrolStopLog, Grid).join(Grid, Grid.id == PatrolStopLog.grid_id).order_by(PatrolStopLog.id.desc())
    if tour_id is not None:
        q = q.where(PatrolStopLog.tour_id == tour_id)
    if day is not None:
        q = q.where(PatrolStopLog.day == day)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return [stop_log_public(e, g) for e, g in session.execute(q.limit(limit))]


def _emit(session: Session, t: PatrolTour, action: str, extra: dict | None = None) -> None:
    # a tour inside one community is news for that community's screens only; one across communities, the street's
    events.record(session, "patrol", {"action": action, "tour_id": t.id, "tour_state": t.state,
                                      "operator": t.operator, **(extra or {})},
                  community_id=tour_community(t, grids_of(session, [t])))
