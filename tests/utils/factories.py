"""Small worlds built in code: a 3×3 grid district with two workers and a few categories."""
from __future__ import annotations

from datetime import datetime, timedelta

from shapely.geometry import box, mapping
from sqlalchemy.orm import Session

from dashboard.models import Category, Community, Grid, Street, Worker, WorkerGrid
from dashboard.timeutil import local_day_bounds, local_today, utcnow

ORIGIN_LAT, ORIGIN_LON, STEP = 34.26, 108.95, 0.002


def make_district(session: Session, *, n: int = 3) -> dict:
    """One street, two communities (left column / the rest), n×n square grids, two workers, three categories."""
    street = Street(code="S1", name="测试街道", district="测试区", city="西安市")
    session.add(street)
    session.flush()
    c1 = Community(code="S1C1", name="一社区", street_id=street.id)
    c2 = Community(code="S1C2", name="二社区", street_id=street.id)
    session.add_all([c1, c2])
    session.flush()
    grids = []
    for i in range(n):
        for j in range(n):
            poly = box(ORIGIN_LON + j * STEP, ORIGIN_LAT + i * STEP, ORIGIN_LON + (j + 1) * STEP,
                       ORIGIN_LAT + (i + 1) * STEP)
            g = Grid(code=f"G{i}{j}", name=f"网格{i}{j}", community_id=(c1 if j == 0 else c2).id,
                     boundary=mapping(poly), centroid_lat=poly.centroid.y, centroid_lon=poly.centroid.x,
                     area_m2=185.0 * 222.0)
            session.add(g)
            grids.append(g)
    session.flush()
    cats = [
        Category(code="0101", name="暴露垃圾", major_code="01", major_name="市容环境", time_limit_hours=4,
                 default_priority=3, weight=5, onsite_share=0.8),
        Category(code="0401", name="消防通道堵塞", major_code="04", major_name="安全隐患", time_limit_hours=2,
                 default_priority=1, weight=1, onsite_share=0.2),
        Category(code="0601", name="民生诉求", major_code="06", major_name="民生诉求", time_limit_hours=24,
                 default_priority=3, weight=2, onsite_share=0.3),
    ]
    session.add_all(cats)
    w1 = Worker(code="W1", name="张三", phone="13812345678", device_id="DEV1", grid_id=grids[0].id, shift="day")
    w2 = Worker(code="W2", name="李四丰", phone="13987654321", device_id="DEV2", grid_id=grids[4].id, shift="day")
    session.add_all([w1, w2])
    session.flush()
    w1.grids = [WorkerGrid(grid_id=grids[0].id, primary=True)]
    w2.grids = [WorkerGrid(grid_id=grids[4].id, primary=True)]
    session.flush()
    return {"street": street, "communities": [c1, c2], "grids": grids, "workers": [w1, w2], "categories": cats}


def grid_center(grid: Grid) -> tuple[float, float]:
    return grid.centroid_lat, grid.centroid_lon


def earlier_today(minutes: float) -> datetime:
    """``minutes`` ago, or, when that is before today's local midnight (Asia/Shanghai), a time between midnight and
    now, earlier for more minutes: a fixture's "walked today" stays today, in the same order, when the suite runs
    just after midnight (CI once failed at 00:00 +08:00)."""
    now = utcnow()
    start, _ = local_day_bounds(local_today(now))
    then = now - timedelta(minutes=minutes)
    return then if then >= start else start + (now - start) / (minutes + 1)
