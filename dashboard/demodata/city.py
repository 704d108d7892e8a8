"""A city-scale synthetic dataset: 10,000 grids, 20,000 workers, 1,000,000 cases (deterministic).

For the scale tests and benchmarks, not for screens: a square city of streets →
communities → grids (a lattice of ~250 m cells around Xi'an), two workers per grid,
the demo category catalogue, and a year of cases up to yesterday (Asia/Shanghai),
most closed, some open and some overdue. Same seed, same city.

Rows go in with the fastest path each backend has: COPY (CSV) on PostgreSQL,
``executemany`` on SQLite. Call ``generate_city(engine)`` on a migrated database
without grids; ``python run.py gen-city --db URL`` does that.
"""
from __future__ import annotations

import io
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..models import Category, Grid
from ..timeutil import UTC, local, utcnow

log = logging.getLogger(__name__)

CATEGORIES_CSV = Path(__file__).resolve().parents[2] / "data" / "xiyilu" / "categories.csv"
ORIGIN = (34.16, 108.80)          # south-west corner of the synthetic city (lat, lon)
CELL_DEG = (0.00225, 0.0027)      # ~250 m × ~250 m at this latitude
GRIDS_PER_COMMUNITY = 30
COMMUNITIES_PER_STREET = 10
STATES = np.array(["closed", "void", "reported", "registered", "dispatched", "handling", "feedback"])
STATE_P = np.array([0.86, 0.02, 0.02, 0.02, 0.03, 0.03, 0.02])
SOURCES = np.array(["app", "open311", "hotline", "sensor", "operator"])
SOURCE_P = np.array([0.70, 0.10, 0.12, 0.03, 0.05])
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")


def generate_city(engine: Engine, *, grids: int = 10_000, workers: int = 20_000, cases: int = 1_000_000,
                  seed: int = 20261129, days: int = 365, now: datetime | None = None) -> dict[str, int]:
    """Fill an empty (migrated) database with a synthetic city; returns row counts."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = now or utcnow()
    with Session(engine) as s:
        if s.scalar(select(func.count()).select_from(Grid)):
            raise ValueError("the database already holds grids; gen-city only fills an empty database")
        if not s.scalar(select(func.count()).select_from(Category)):
            from ..services.importers import import_categories

            import_categories(s, CATEGORIES_CSV)
            s.commit()
        cats = pd.DataFrame(s.execute(select(Category.code, Category.time_limit_hours, Category.default_priority,
                                             Category.onsite_share)).all(),
                            columns=["code", "limit_h", "priority", "onsite"]).sort_values("code")
    tables = _geography(grids)
    tables["worker"], tables["worker_grid"] = _workers(rng, workers, grids)
    tables["case_file"] = _cases(rng, cases, tables["grid"], tables["worker"], cats, now, days)
    with engine.begin() as conn:
        for name in ("street", "community", "grid", "worker", "worker_grid", "case_file"):
            _bulk_insert(conn, name, tables[name])
        if conn.dialect.name == "postgresql":
            for name in ("street", "community", "grid", "worker", "case_file"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT max(id) FROM {name}))"))
            conn.execute(text("ANALYZE"))
    counts = {name: len(df) for name, df in tables.items()}
    log.info("generated the city in %.1f s: %s", time.perf_counter() - t0, counts)
    return counts


def _square(lat: float, lon: float, dlat: float, dlon: float) -> str:
    ring = [[lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]]
    return json.dumps({"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]})


def _geography(n_grids: int) -> dict[str, pd.DataFrame]:
    """Streets → communities → grids on a square lattice (row-major, so neighbours share a community)."""
    side = int(np.ceil(np.sqrt(n_grids)))
    idx = np.arange(n_grids)
    row, col = idx // side, idx % side
    lat0 = ORIGIN[0] + row * CELL_DEG[0]
    lon0 = ORIGIN[1] + col * CELL_DEG[1]
    comm = idx // GRIDS_PER_COMMUNITY + 1
    n_comm = int(comm.max())
    street_of_comm = (np.arange(n_comm) // COMMUNITIES_PER_STREET) + 1
    n_street = int(street_of_comm.max())
    area = (CELL_DEG[0] * 111_320) * (CELL_DEG[1] * 111_320 * np.cos(np.radians(lat0 + CELL_DEG[0] / 2)))
    grid = pd.DataFrame({
        "id": idx + 1, "code": [f"CITY-G{i + 1:05d}" for i in idx], "name": [f"第{i + 1}网格" for i in idx],
        "level": 3, "community_id": comm,
        "boundary": [_square(a, b, *CELL_DEG) for a, b in zip(lat0, lon0)],
        "centroid_lat": np.round(lat0 + CELL_DEG[0] / 2, 6), "centroid_lon": np.round(lon0 + CELL_DEG[1] / 2, 6),
        "area_m2": np.round(area, 1)})
    community = pd.DataFrame({
        "id": np.arange(1, n_comm + 1), "code": [f"CITY-C{i:04d}" for i in range(1, n_comm + 1)],
        "name": [f"第{i}社区" for i in range(1, n_comm + 1)], "street_id": street_of_comm, "boundary": None})
    street = pd.DataFrame({
        "id": np.arange(1, n_street + 1), "code": [f"CITY-S{i:03d}" for i in range(1, n_street + 1)],
        "name": [f"第{i}街道" for i in range(1, n_street + 1)], "district": "合成区", "city": "合成市",
        "boundary": None})
    return {"street": street, "community": community, "grid": grid}


def _workers(rng: np.random.Generator, n: int, n_grids: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Workers spread evenly over the grids (each grid gets n // n_grids, the rest round-robin)."""
    idx = np.arange(n)
    home = idx % n_grids + 1
    sur = rng.integers(0, len(SURNAMES), n)
    given = rng.integers(0, len(GIVEN), (n, 2))
    phones = rng.integers(0, 10**8, n)
    worker = pd.DataFrame({
        "id": idx + 1, "code": [f"CITY-W{i + 1:05d}" for i in idx],
        "name": [SURNAMES[a] + GIVEN[b] + GIVEN[c] for a, (b, c) in zip(sur, given)],
        "phone": [f"139{p:08d}" for p in phones], "device_id": [f"city-dev-{i + 1:05d}" for i in idx],
        "grid_id": home, "role": "专职网格员", "shift": "day", "duty_state": "offline", "active": True})
    worker_grid = pd.DataFrame({"worker_id": idx + 1, "grid_id": home, "primary": True})
    return worker, worker_grid


def _cases(rng: np.random.Generator, n: int, grid: pd.DataFrame, worker: pd.DataFrame, cats: pd.DataFrame,
           now: datetime, days: int) -> pd.DataFrame:
    """A year of cases up to yesterday (local time), so today's case codes stay free for live reports."""
    today_local = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today_local - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)
    span_s = days * 86400 - 1
    offsets = np.sort(rng.integers(0, span_s, n))
    created = pd.to_datetime(start) + pd.to_timedelta(offsets, unit="s")
    g = rng.integers(0, len(grid), n)
    cat = rng.integers(0, len(cats), n)
    state = rng.choice(STATES, n, p=STATE_P)
    limit_h = cats["limit_h"].to_numpy()[cat]
    # wall-clock SLA ≈ working hours × 3 (8-hour days, weekends): good enough for a benchmark
    due = created + pd.to_timedelta(limit_h * 3 * 3600, unit="s")
    onsite = rng.random(n) < cats["onsite"].to_numpy()[cat]
    late = rng.random(n) < 0.12
    took_h = np.where(late, limit_h * 3 * rng.uniform(1.05, 2.0, n), limit_h * 3 * rng.uniform(0.05, 0.95, n))
    closed_at = (created + pd.to_timedelta(np.where(onsite, rng.uniform(0.1, 1.0, n), took_h) * 3600, unit="s"))
    dispatched = ~np.isin(state, ["reported", "registered"]) & ~onsite
    n_workers = len(worker)
    reporter = (g + 1 + len(grid) * rng.integers(0, max(1, n_workers // len(grid)), n)) % n_workers
    reporter = np.where(reporter == 0, n_workers, reporter)
    created_local = created + pd.Timedelta(hours=8)
    day_key = created_local.strftime("%Y%m%d")
    seq = pd.Series(np.ones(n, dtype=np.int64)).groupby(day_key.to_numpy()).cumsum().to_numpy()
    final = np.where(onsite & (state != "void"), "closed", state)
    ended = np.isin(final, ["closed", "void"])
    return pd.DataFrame({
        "id": np.arange(1, n + 1), "code": [f"{d}{s:05d}" for d, s in zip(day_key, seq)],
        "category_code": cats["code"].to_numpy()[cat], "priority": cats["priority"].to_numpy()[cat],
        "description": "合成数据", "address": grid["name"].to_numpy()[g],
        "lat": np.round(grid["centroid_lat"].to_numpy()[g] + rng.uniform(-0.001, 0.001, n), 6),
        "lon": np.round(grid["centroid_lon"].to_numpy()[g] + rng.uniform(-0.0013, 0.0013, n), 6),
        "grid_id": grid["id"].to_numpy()[g], "community_id": grid["community_id"].to_numpy()[g],
        "outside": False, "source": rng.choice(SOURCES, n, p=SOURCE_P),
        "reporter_worker_id": reporter, "state": final, "level": "grid", "handled_onsite": onsite,
        "assigned_worker_id": pd.Series(reporter, dtype="Int64").where(dispatched),
        "created_at": created, "updated_at": created,
        "dispatched_at": pd.Series(created).where(dispatched),
        "sla_due_at": pd.Series(due).where(dispatched),
        "closed_at": pd.Series(closed_at).where(ended),
        "rework_count": 0})


def _bulk_insert(conn, table: str, df: pd.DataFrame) -> None:
    """COPY on PostgreSQL, executemany on SQLite; one call per table."""
    t0 = time.perf_counter()
    cols = list(df.columns)
    quoted = ", ".join(f'"{c}"' for c in cols)
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        df.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
    else:
        out = df.astype(object)
        for c in cols:
            kind = df[c].dtype.kind
            if kind == "M":
                out[c] = df[c].dt.strftime("%Y-%m-%d %H:%M:%S.%f").astype(object)
            elif kind == "b":
                out[c] = df[c].astype(int).astype(object)
        out = out.where(df.notna(), None)
        rows = list(out.itertuples(index=False, name=None))
        placeholders = ", ".join("?" for _ in cols)
        conn.connection.driver_connection.executemany(
            f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)
    log.info("%s: %d rows in %.1f s", table, len(df), time.perf_counter() - t0)
