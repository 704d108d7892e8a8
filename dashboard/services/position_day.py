"""The per-day worker x grid rollup of fixes (``position_day``): kept at ingest, rebuilt by back-fill.

Coverage and worker activity of a day then read one row per (worker, grid) — ~40,000 at city
scale — instead of grouping the day's million fixes. A day is the Asia/Shanghai calendar day
(UTC+8 all year, no daylight saving since 1991), so the SQL back-fill shifts by a fixed 8 hours.

The rollup also carries the distance walked (巡查里程), added up fix by fix with GPS jitter filtered
(``advance``): a fix reported less accurate than ``MAX_ACCURACY_M`` is dropped; a move shorter than
``MIN_MOVE_M`` from the last kept fix (the anchor) is jitter and moves nothing; a move that even at its
shortest (the last good fix lies within ``MIN_MOVE_M`` of the anchor) would need more than ``MAX_SPEED_MS``
is a jump and is dropped, unless the next fix confirms the new place (then the walk re-anchors there
without counting the way); after a silence longer than ``MAX_GAP_S`` the way is unknown and not counted.
A move's metres go to the grid where it ends. Each day's walk starts at the day's first fix. Ingest keeps
each worker's walk state in ``position_walk``; a fix older than the worker's last good fix (a phone's
buffer sent late) counts as a fix but adds no distance until a back-fill, which walks the stored fixes in order.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models.geo import Grid
from ..models.people import Worker
from ..models.people import Position
from ..models.position_day import NO_GRID, PositionDay, PositionWalk
from ..timeutil import SHANGHAI, as_utc, local_day_bounds

MAX_ACCURACY_M = 50.0   # a fix the phone itself reports worse than this is dropped
MIN_MOVE_M = 10.0       # closer than this to the last kept fix: standing still, the fixes scatter
MAX_SPEED_MS = 7.0      # ~25 km/h: a bicycle at most; faster between fixes is a jump of the fix, not a walk
MAX_GAP_S = 600.0       # a silence longer than this: the way between is unknown, not counted
EARTH_M = 6371008.8


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Walk:
    """One worker's walk through a day: the anchor (last kept fix), the last good fix's time, a pending jump."""
    day: date
    anchor_at: datetime
    anchor_lat: float
    anchor_lon: float
    last_at: datetime
    pending_at: datetime | None = None
    pending_lat: float | None = None
    pending_lon: float | None = None


def advance(walk: Walk | None, t: datetime, lat: float, lon: float, accuracy: float | None) -> tuple[Walk | None, float]:
    """The walk after one more fix (UTC-aware ``t``, in time order) and the metres it adds (0 for jitter)."""
    if accuracy is not None and accuracy > MAX_ACCURACY_M:
        return walk, 0.0
    day = t.astimezone(SHANGHAI).date()
    if walk is None or walk.day != day:
        return Walk(day, t, lat, lon, t), 0.0
    gap = (t - walk.last_at).total_seconds()
    if gap <= 0:  # older than (or as old as) the last good fix: late, adds nothing here
        return walk, 0.0
    if gap > MAX_GAP_S:
        return Walk(day, t, lat, lon, t), 0.0
    d = _metres(walk.anchor_lat, walk.anchor_lon, lat, lon)
    if d < MIN_MOVE_M:
        walk.last_at, walk.pending_at = t, None
        return walk, 0.0
    if (d - MIN_MOVE_M) / gap > MAX_SPEED_MS:  # a jump: believe it only when the next fix agrees
        if walk.pending_at is not None and walk.pending_lat is not None and walk.pending_lon is not None:
            pg = (t - walk.pending_at).total_seconds()
            if pg > 0 and _metres(walk.pending_lat, walk.pending_lon, lat, lon) <= MIN_MOVE_M + MAX_SPEED_MS * pg:
                return Walk(day, t, lat, lon, t), 0.0  # moved (by car, say): re-anchored, the way not counted
        walk.pending_at, walk.pending_lat, walk.pending_lon = t, lat, lon
        return walk, 0.0
    return Walk(day, t, lat, lon, t), d


def walk_distance(fixes: Iterable[tuple[datetime, float, float, float | None, int | None]],
                  walk: Walk | None = None) -> tuple[dict[tuple[date, int], float], Walk | None]:
    """Metres per (day, grid id or NO_GRID) over one worker's fixes ``(t, lat, lon, accuracy, grid)`` in time
    order, and the walk after them."""
    out: dict[tuple[date, int], float] = {}
    for t, lat, lon, acc, grid in fixes:
        walk, m = advance(walk, t, lat, lon, acc)
        if m and walk is not None:
            key = (walk.day, NO_GRID if grid is None else int(grid))
            out[key] = out.get(key, 0.0) + m
    return out, walk

_DAY_SQL = {"postgresql": "CAST(fix_time + INTERVAL '8 hours' AS DATE)", "sqlite": "date(fix_time, '+8 hours')"}


def backfill_sql(dialect: str, where: str = "") -> str:
    """INSERT … SELECT that rolls the position table (rows matching ``where``) up into position_day."""
    day = _DAY_SQL.get(dialect, _DAY_SQL["postgresql"])
    return (f"INSERT INTO position_day (day, worker_id, grid_id, fixes, first_at, last_at) "
            f"SELECT {day}, worker_id, COALESCE(grid_id, {NO_GRID}), count(*), min(fix_time), max(fix_time) "
            f"FROM position {where} GROUP BY 1, 2, 3")


def backfill(session: Session, first_day: date | None = None, last_day: date | None = None) -> int:
    """Rebuild the rollup for the days ``first_day``…``last_day`` (inclusive; None = open end) from the fixes."""
    dialect = session.get_bind().dialect.name
    d = delete(PositionDay)
    conds: list[str] = []
    params: dict[str, Any] = {}
    if first_day is not None:
        d = d.where(PositionDay.day >= first_day)
        conds.append("fix_time >= :lo")
        params["lo"] = local_day_bounds(first_day)[0].replace(tzinfo=None)
    if last_day is not None:
        d = d.where(PositionDay.day <= last_day)
        conds.append("fix_time < :hi")
        params["hi"] = local_day_bounds(last_day)[1].replace(tzinfo=None)
    session.execute(d)
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    if dialect == "sqlite":  # fix_time is stored as text there: compare like with like
        params = {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in params.items()}
    result = cast(CursorResult, session.execute(text(backfill_sql(dialect, where)), params))  # DML: has rowcount
    backfill_distance(session, first_day, last_day)
    return result.rowcount or 0


def record(session: Session, inserted: Iterable[Any]) -> int:
    """Add freshly stored fixes (rows with worker_id, fix_time, grid_id) to the rollup: one upsert per batch."""
    inserted = list(inserted)
    agg: dict[tuple[date, int, int], list] = {}
    for r in inserted:
        t = as_utc(r.fix_time)
        key = (t.astimezone(SHANGHAI).date(), int(r.worker_id), NO_GRID if r.grid_id is None else int(r.grid_id))
        a = agg.get(key)
        if a is None:
            agg[key] = [1, t, t, 0.0]
        else:
            a[0] += 1
            a[1], a[2] = min(a[1], t), max(a[2], t)
    if not agg:
        return 0
    for (day, wid, grid), m in _walk_batch(session, inserted).items():
        agg[(day, wid, grid)][3] += m
    stmt = _rollup_upsert(session.get_bind().dialect.name)
    rows = [{"day": k[0], "worker_id": k[1], "grid_id": k[2], "fixes": a[0], "first_at": a[1], "last_at": a[2],
             "distance_m": a[3]} for k, a in sorted(agg.items())]  # one key order for every writer: no deadlocks
    session.execute(stmt, rows)
    return len(rows)


@functools.lru_cache(maxsize=4)
def _rollup_upsert(dialect: str):
    """The rollup's upsert, built once per dialect (at city rate every fix is a row of it)."""
    pd = cast(Table, PositionDay.__table__)  # Core, not the ORM's bulk path
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(pd)
    lo, hi = (func.least, func.greatest) if dialect == "postgresql" else (func.min, func.max)
    return ins.on_conflict_do_update(
        index_elements=["day", "worker_id", "grid_id"],
        set_={"fixes": pd.c.fixes + ins.excluded.fixes,
              "first_at": lo(pd.c.first_at, ins.excluded.first_at),
              "last_at": hi(pd.c.last_at, ins.excluded.last_at),
              "distance_m": pd.c.distance_m + ins.excluded.distance_m})


@functools.lru_cache(maxsize=4)
def _walk_upsert(dialect: str):
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(cast(Table, PositionWalk.__table__))
    return ins.on_conflict_do_update(index_elements=["worker_id"], set_={c: ins.excluded[c] for c in WALK_COLUMNS})


WALK_COLUMNS = ["day", "anchor_at", "anchor_lat", "anchor_lon", "last_at", "pending_at", "pending_lat", "pending_lon"]


def _load_walks(session: Session, worker_ids: list[int]) -> dict[int, Walk]:
    out = {}
    pw = PositionWalk.__table__  # columns, not ORM objects: one row per worker of the batch
    for w in session.execute(select(pw).where(pw.c.worker_id.in_(worker_ids))):
        out[w.worker_id] = Walk(w.day, as_utc(w.anchor_at), w.anchor_lat, w.anchor_lon, as_utc(w.last_at),
                                as_utc(w.pending_at) if w.pending_at else None, w.pending_lat, w.pending_lon)
    return out


def _save_walks(session: Session, walks: dict[int, Walk]) -> None:
    if not walks:
        return
    session.execute(_walk_upsert(session.get_bind().dialect.name),
                    [{"worker_id": wid, **{c: getattr(w, c) for c in WALK_COLUMNS}} for wid, w in sorted(walks.items())])


def _walk_batch(session: Session, inserted: list[Any]) -> dict[tuple[date, int, int], float]:
    """Metres per (day, worker, grid) that a batch of stored fixes adds, continuing each worker's walk."""
    by_worker: dict[int, list] = {}
    for r in inserted:
        by_worker.setdefault(int(r.worker_id), []).append(
            (as_utc(r.fix_time), float(r.lat), float(r.lon), getattr(r, "accuracy", None), r.grid_id))
    walks = _load_walks(session, sorted(by_worker))
    out: dict[tuple[date, int, int], float] = {}
    changed: dict[int, Walk] = {}
    for wid, fixes in by_worker.items():
        fixes.sort(key=lambda f: f[0])
        metres, walk = walk_distance(fixes, walks.get(wid))
        if walk is not None:
            changed[wid] = walk
        for (day, grid), m in metres.items():
            out[(day, wid, grid)] = out.get((day, wid, grid), 0.0) + m
    _save_walks(session, changed)
    return out


def backfill_distance(session: Session, first_day: date | None = None, last_day: date | None = None) -> int:
    """Walk the stored fixes of the days ``first_day``…``last_day`` in time order and set each rollup row's
    distance (rows must exist: ``backfill`` makes them); the workers' walk states end where the fixes do."""
    q = select(Position.worker_id, Position.fix_time, Position.lat, Position.lon, Position.accuracy,
               Position.grid_id)
    if first_day is not None:
        q = q.where(Position.fix_time >= local_day_bounds(first_day)[0])
    if last_day is not None:
        q = q.where(Position.fix_time < local_day_bounds(last_day)[1])
    totals: dict[tuple[date, int, int], float] = {}
    walks: dict[int, Walk] = {}
    cur: int | None = None
    walk: Walk | None = None
    for wid, t, lat, lon, acc, grid in session.execute(q.order_by(Position.worker_id, Position.fix_time)):
        if wid != cur:
            if cur is not None and walk is not None:
                walks[cur] = walk
            cur, walk = wid, None
        walk, m = advance(walk, as_utc(t), lat, lon, acc)
        if m and walk is not None:
            key = (walk.day, wid, NO_GRID if grid is None else grid)
            totals[key] = totals.get(key, 0.0) + m
    if cur is not None and walk is not None:
        walks[cur] = walk
    if totals:  # ORM bulk UPDATE by primary key: one executemany
        session.execute(update(PositionDay), [{"day": k[0], "worker_id": k[1], "grid_id": k[2], "distance_m": m}
                                              for k, m in sorted(totals.items())])
    _save_walks(session, walks)
    return len(totals)


def day_rollup(session: Session, day: date,
               community_id: int | None = None) -> list[tuple[int, int | None, int, float]]:
    """(worker_id, grid_id or None, fixes, metres walked) of one day; for a community, the rows in its grids or
    of its workers."""
    q = select(PositionDay.worker_id, PositionDay.grid_id, PositionDay.fixes, PositionDay.distance_m).where(
        PositionDay.day == day)
    if community_id is not None:
        grids = select(Grid.id).where(Grid.community_id == community_id)
        q = q.where(or_(PositionDay.grid_id.in_(grids),
                        PositionDay.worker_id.in_(select(Worker.id).where(Worker.grid_id.in_(grids)))))
    return [(w, None if g == NO_GRID else g, n, float(m or 0.0)) for w, g, n, m in session.execute(q)]


def first_last(session: Session, day: date) -> dict[int, tuple[datetime, datetime]]:
    """Each worker's first and last fix of the day."""
    q = select(PositionDay.worker_id, func.min(PositionDay.first_at), func.max(PositionDay.last_at)).where(
        PositionDay.day == day).group_by(PositionDay.worker_id)
    return {w: (a, b) for w, a, b in session.execute(q)}
