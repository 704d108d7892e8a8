"""Visits (走访, issue 31 item 3): a grid worker records a household or place visit in her grids — whom, what they
need, what they think, what she promised — and a promised follow-up becomes a case in one tap (once).

Whom she visited is personal data: every payload masks it (张三 → 张*, a number in it → 138****5678), and the
needs, opinions and follow-up texts are masked for that person and every known name, as case texts are.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..geo.locate import GridLocator
from ..masking import indexable_name, mask_name, mask_text, normalise_name
from ..models import Case, Category, Grid, Visit, Worker
from ..timeutil import as_utc, iso, local_day_bounds, utcnow
from .cases import CaseError, CaseReport, report_case
from .name_index import known_names
from .triage import guess_category

KINDS = ("household", "place")
LIMITS = {"whom": 64, "place": 128, "needs": 2000, "opinions": 2000, "follow_up": 2000}
FOLLOW_UP_CATEGORY = "0601"  # 民生诉求: where a promise nobody's keywords match is filed (the console re-triages it)


class VisitError(ValueError):
    """Bad input for a visit (HTTP 422; 403 when ``status`` says so); ``field`` names the offending field."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


class FollowUpExists(ValueError):
    """The visit's follow-up is already a case (HTTP 409): one tap makes one case."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"the follow-up is already case {case_id}")
        self.case_id = case_id


def worker_grid_ids(worker: Worker) -> list[int]:
    """The grids a worker serves: her home grid first, then the others she is assigned."""
    ids = [worker.grid_id] if worker.grid_id else []
    return ids + [g.grid_id for g in worker.grids if g.grid_id not in ids]


def _text(data: dict, key: str) -> str:
    v = data.get(key, "")
    if v is None:
        return ""
    if not isinstance(v, str):
        raise VisitError(key, "must be text")
    v = v.strip()
    if len(v) > LIMITS[key]:
        raise VisitError(key, f"at most {LIMITS[key]} characters")
    return v


def _coord(data: dict, key: str, lo: float, hi: float) -> float | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise VisitError(key, f"must be a number between {lo:g} and {hi:g}")
    return float(v)


def _at(raw: Any, now: datetime) -> datetime:
    if raw in (None, ""):
        return now
    if not isinstance(raw, str):
        raise VisitError("at", "must be an ISO 8601 time with a zone")
    try:
        v = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise VisitError("at", "must be an ISO 8601 time with a zone") from None
    if v.tzinfo is None:
        raise VisitError("at", "needs a time zone (Z or +08:00)")
    v = as_utc(v)
    if v > now or (now - v).days > 31:
        raise VisitError("at", "must lie within the last 31 days, not in the future")
    return v


def record_visit(session: Session, worker: Worker, data: dict, *, locator: GridLocator | None = None,
                 now: datetime | None = None) -> Visit:
    """A visit by ``worker`` from a JSON body: kind, whom, place, needs, opinions, follow_up, grid_id?, lat/lon?,
    at?. The grid must be one of hers: named, else where the point lies, else her home grid."""
    now = now or utcnow()
    kind = data.get("kind", "household")
    if kind not in KINDS:
        raise VisitError("kind", f"must be one of {', '.join(KINDS)}")
    texts = {k: _text(data, k) for k in LIMITS}
    if not (texts["whom"] or texts["place"]):
        raise VisitError("whom", "say whom or which place was visited")
    if not (texts["needs"] or texts["opinions"] or texts["follow_up"]):
        raise VisitError("needs", "write down what was heard (needs, opinions or a follow-up)")
    lat, lon = _coord(data, "lat", -90, 90), _coord(data, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise VisitError("lat" if lat is None else "lon", "give both lat and lon, or neither")
    mine = worker_grid_ids(worker)
    gid = data.get("grid_id")
    if gid is not None:
        if isinstance(gid, bool) or not isinstance(gid, int):
            raise VisitError("grid_id", "must be an integer")
        if gid not in mine:
            raise VisitError("grid_id", f"grid {gid} is not one of your grids", 403)
    else:
        hit = locator.locate(lat, lon) if lat is not None and lon is not None and locator is not None else None
        gid = hit if hit in mine else (mine[0] if mine else None)
    grid = session.get(Grid, gid) if gid else None
    v = Visit(worker_id=worker.id, grid_id=gid, community_id=grid.community_id if grid else None, kind=kind,
              lat=lat, lon=lon, at=_at(data.get("at"), now), created_at=now, **texts)
    session.add(v)
    session.flush()
    return v


def mask_whom(whom: str | None, known) -> str:  # noqa: ANN001
    """Whom, masked: a bare name as a name (王小明 → 王*明), anything longer as free text."""
    if not whom:
        return ""
    if indexable_name(whom) and len(normalise_name(whom)) <= 4:
        return mask_name(whom) or ""
    return mask_text(whom, (), known) or ""


def visit_public(v: Visit, *, grid: Grid | None = None, worker_name: str | None = None, known=None,  # noqa: ANN001
                 case_code: str | None = None) -> dict[str, Any]:
    """What screens may see of a visit: whom and the worker masked, the texts masked for them and known names."""
    known = known if known is not None else known_names(v)
    own = [n for n in (v.whom, worker_name) if n]
    return {"id": v.id, "kind": v.kind, "whom": mask_whom(v.whom, known),
            "place": mask_text(v.place, own, known) or "", "needs": mask_text(v.needs, own, known) or "",
            "opinions": mask_text(v.opinions, own, known) or "", "follow_up": mask_text(v.follow_up, own, known) or "",
            "follow_up_case_id": v.follow_up_case_id, "follow_up_case_code": case_code,
            "worker_id": v.worker_id, "worker": mask_name(worker_name) if worker_name else None,
            "grid_id": v.grid_id, "grid_code": grid.code if grid else None, "grid_name": grid.name if grid else None,
            "community_id": v.community_id, "lat": v.lat, "lon": v.lon, "at": iso(v.at),
            "created_at": iso(v.created_at)}


def visits_public(session: Session, rows: list[Visit]) -> list[dict[str, Any]]:
    """Many visits, masked, with one query each for grids, workers and case codes."""
    gids = {v.grid_id for v in rows if v.grid_id}
    wids = {v.worker_id for v in rows}
    cids = {v.follow_up_case_id for v in rows if v.follow_up_case_id}
    grids = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(gids)))} if gids else {}
    names = dict(session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(wids))).all()) if wids else {}
    codes = dict(session.execute(select(Case.id, Case.code).where(Case.id.in_(cids))).all()) if cids else {}
    known = known_names(session)
    return [visit_public(v, grid=grids.get(v.grid_id) if v.grid_id else None, worker_name=names.get(v.worker_id),
                         known=known, case_code=codes.get(v.follow_up_case_id) if v.follow_up_case_id else None)
            for v in rows]


def scoped(q: Select, *, worker_id: int | None, community_id: int | None) -> Select:
    """A visit query limited to one worker's visits and/or one community's."""
    if worker_id is not None:
        q = q.where(Visit.worker_id == worker_id)
    if community_id is not None:
        q = q.where(Visit.community_id == community_id)
    return q


def follow_up_case(session: Session, v: Visit, *, category_code: str | None = None,
                   locator: GridLocator | None = None, actor: str = "", now: datetime | None = None) -> Case:
    """The visit's follow-up as a case (source app, escalated to the center) at the visit's grid and place; once."""
    if v.follow_up_case_id is not None:
        raise FollowUpExists(v.follow_up_case_id)
    text = v.follow_up or v.needs or v.opinions
    if not text:
        raise VisitError("follow_up", "this visit promised no follow-up")
    if category_code is not None and not isinstance(category_code, str):
        raise VisitError("category_code", "must be a category code")
    code = category_code or guess_category(session, text) or _fallback_category(session)
    lat, lon = v.lat, v.lon
    grid = session.get(Grid, v.grid_id) if v.grid_id else None
    if grid is not None and (lat is None or lon is None or (locator is not None
                                                            and locator.locate(lat, lon) != grid.id)):
        lat, lon = grid.centroid_lat, grid.centroid_lon  # no fix, or one in a neighbour's grid: the visit's grid
    parts = [("走访跟进", v.follow_up), ("群众需求", v.needs), ("意见建议", v.opinions)]
    description = "\n".join(f"{k}：{x}" for k, x in parts if x)
    report = CaseReport(category_code=code, description=description, lat=lat, lon=lon, address=v.place,
                        source="app", reporter_worker_id=v.worker_id, note=f"visit:{v.id}",
                        attributes={"visit_id": v.id, **({} if category_code else {"category_unconfirmed": True})})
    try:
        c, _ = report_case(session, report, locator=locator, now=now, actor=actor)
    except CaseError as exc:
        raise VisitError(exc.field, exc.message) from None
    v.follow_up_case_id = c.id
    session.flush()
    return c


def _fallback_category(session: Session) -> str:
    if session.get(Category, FOLLOW_UP_CATEGORY) is not None:
        return FOLLOW_UP_CATEGORY
    code = session.scalar(select(Category.code).where(Category.active.is_(True)).order_by(Category.code).limit(1))
    if code is None:
        raise VisitError("category_code", "no active category to file the follow-up under")
    return code


def day_counts(session: Session, day: date, community_id: int | None = None) -> dict[str, Any]:
    """The day's visits (local day): total, households, places, promised follow-ups, made cases, workers, and per
    community."""
    start, end = local_day_bounds(day)
    q = select(Visit.community_id, Visit.kind, Visit.worker_id, Visit.follow_up, Visit.follow_up_case_id).where(
        Visit.at >= start, Visit.at < end)
    if community_id is not None:
        q = q.where(Visit.community_id == community_id)
    rows = session.execute(q).all()
    by_comm: dict[int | None, int] = {}
    for r in rows:
        by_comm[r.community_id] = by_comm.get(r.community_id, 0) + 1
    return {"count": len(rows), "household": sum(1 for r in rows if r.kind == "household"),
            "place": sum(1 for r in rows if r.kind == "place"),
            "follow_ups": sum(1 for r in rows if r.follow_up), "cases": sum(1 for r in rows if r.follow_up_case_id),
            "workers": len({r.worker_id for r in rows}),
            "by_community": {str(k): n for k, n in by_comm.items() if k is not None}}


def count_since(session: Session, start: datetime, end: datetime) -> int:
    """Visits in ``[start, end)`` street-wide (a probe for caches)."""
    return int(session.scalar(select(func.count()).select_from(Visit).where(Visit.at >= start, Visit.at < end)) or 0)
