"""The per-day fix rollup equals a GROUP BY over the position table, after late, duplicate and outside fixes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import delete

from dashboard.models import PositionDay
from dashboard.services.position_day import backfill
from dashboard.services.positions import Fix, ingest_fixes
from tests.utils.factories import grid_center, make_district

# 15:50 UTC = 23:50 in Shanghai: the batches straddle a local midnight
T = datetime(2026, 11, 25, 15, 50, tzinfo=timezone.utc)


def _group_by(engine) -> pd.DataFrame:
    """The reference: the fixes grouped by Shanghai day, worker and grid, in pandas."""
    p = pd.read_sql("SELECT worker_id, grid_id, fix_time FROM position", engine)
    p["fix_time"] = pd.to_datetime(p["fix_time"], utc=True, format="mixed")
    p["day"] = p["fix_time"].dt.tz_convert("Asia/Shanghai").dt.date
    p["grid_id"] = p["grid_id"].fillna(0).astype(int)
    g = p.groupby(["day", "worker_id", "grid_id"]).agg(fixes=("fix_time", "size"), first_at=("fix_time", "min"),
                                                       last_at=("fix_time", "max")).reset_index()
    return g.sort_values(["day", "worker_id", "grid_id"]).reset_index(drop=True)


def _rollup(engine) -> pd.DataFrame:
    r = pd.read_sql("SELECT day, worker_id, grid_id, fixes, first_at, last_at FROM position_day", engine)
    r["day"] = pd.to_datetime(r["day"]).dt.date
    for c in ("first_at", "last_at"):
        r[c] = pd.to_datetime(r[c], utc=True, format="mixed")
    return r.sort_values(["day", "worker_id", "grid_id"]).reset_index(drop=True)[
        ["day", "worker_id", "grid_id", "fixes", "first_at", "last_at"]]


def test_rollup_matches_group_by_after_late_duplicate_and_outside_fixes(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        wids = [x.id for x in w["workers"]][:3]
        centers = [grid_center(g) for g in w["grids"]][:4]
    services.reload_grids()

    def batch(offsets, grid=0, outside=False):
        out = []
        for i, m in enumerate(offsets):
            lat, lon = (34.5, 109.5) if outside else centers[(grid + i) % len(centers)]
            out.append(Fix(worker_id=wids[i % len(wids)], fix_time=T + timedelta(minutes=m), lat=lat, lon=lon))
        return out

    first = batch(range(0, 20, 2))                      # 23:50–00:08 local: two days
    batches = [first,
               first[:4] + batch([1, 3, 5, 7], grid=1),  # four duplicates, four new
               batch([-60 * 30, -5, 12], grid=2),       # late fixes from a phone's buffer (a day and more back)
               batch([4, 9], outside=True),             # outside every grid: grid_id NULL
               batch([-60 * 30, 4], grid=2)]            # duplicates of the late ones, again
    accepted = 0
    for b in batches:
        with services.db.write() as s:
            accepted += ingest_fixes(s, b, locator=services.locator, now=T + timedelta(minutes=30)).accepted
    engine = services.db.engine
    want = _group_by(engine)
    assert int(want["fixes"].sum()) == accepted == 10 + 4 + 3 + 2 + 1
    assert want["day"].nunique() == 3 and (want["grid_id"] == 0).any()
    pd.testing.assert_frame_equal(_rollup(engine), want, check_dtype=False)

    # the back-fill rebuilds exactly the same table, whole or for one day
    with services.db.write() as s:
        s.execute(delete(PositionDay))
        backfill(s)
    pd.testing.assert_frame_equal(_rollup(engine), want, check_dtype=False)
    day = sorted(want["day"].unique())[1]
    with services.db.write() as s:
        s.execute(delete(PositionDay).where(PositionDay.day == day))
        backfill(s, day, day)
    pd.testing.assert_frame_equal(_rollup(engine), want, check_dtype=False)
