"""The per-day worker x grid rollup of fixes (``position_day``): kept at ingest, rebuilt by back-fill.

Coverage and worker activity of a day then read one row per (worker, grid) — ~40,000 at city
scale — instead of grouping the day's million fixes. A day is the Asia/Shanghai calendar day
(UTC+8 all year, no daylight saving since 1991), so the SQL back-fill shifts by a fixed 8 hours.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models.geo import Grid
from ..models.people import Worker
from ..models.position_day import NO_GRID, PositionDay
from ..timeutil import SHANGHAI, as_utc, local_day_bounds

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
    return result.rowcount or 0


def record(session: Session, inserted: Iterable[Any]) -> int:
    """Add freshly stored fixes (rows with worker_id, fix_time, grid_id) to the rollup: one upsert per batch."""
    agg: dict[tuple[date, int, int], list] = {}
    for r in inserted:
        t = as_utc(r.fix_time)
        key = (t.astimezone(SHANGHAI).date(), int(r.worker_id), NO_GRID if r.grid_id is None else int(r.grid_id))
        a = agg.get(key)
        if a is None:
            agg[key] = [1, t, t]
        else:
            a[0] += 1
            a[1], a[2] = min(a[1], t), max(a[2], t)
    if not agg:
        return 0
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(PositionDay)
    lo, hi = (func.least, func.greatest) if dialect == "postgresql" else (func.min, func.max)
    stmt = ins.on_conflict_do_update(
        index_elements=["day", "worker_id", "grid_id"],
        set_={"fixes": PositionDay.fixes + ins.excluded.fixes,
              "first_at": lo(PositionDay.first_at, ins.excluded.first_at),
              "last_at": hi(PositionDay.last_at, ins.excluded.last_at)})
    rows = [{"day": k[0], "worker_id": k[1], "grid_id": k[2], "fixes": a[0], "first_at": a[1], "last_at": a[2]}
            for k, a in sorted(agg.items())]  # one key order for every writer: no upsert deadlocks
    session.execute(stmt, rows)
    return len(rows)


def day_rollup(session: Session, day: date, community_id: int | None = None) -> list[tuple[int, int | None, int]]:
    """(worker_id, grid_id or None, fixes) of one day; for a community, the rows in its grids or of its workers."""
    q = select(PositionDay.worker_id, PositionDay.grid_id, PositionDay.fixes).where(PositionDay.day == day)
    if community_id is not None:
        grids = select(Grid.id).where(Grid.community_id == community_id)
        q = q.where(or_(PositionDay.grid_id.in_(grids),
                        PositionDay.worker_id.in_(select(Worker.id).where(Worker.grid_id.in_(grids)))))
    return [(w, None if g == NO_GRID else g, n) for w, g, n in session.execute(q)]


def first_last(session: Session, day: date) -> dict[int, tuple[datetime, datetime]]:
    """Each worker's first and last fix of the day."""
    q = select(PositionDay.worker_id, func.min(PositionDay.first_at), func.max(PositionDay.last_at)).where(
        PositionDay.day == day).group_by(PositionDay.worker_id)
    return {w: (a, b) for w, a, b in session.execute(q)}
