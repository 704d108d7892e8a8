"""Benchmark: assigning points to grids, vectorised vs one Python call per point.

Run from the repo root:  python bench/bench_point_to_grid.py
Uses data/xiyilu/grids.geojson when present, else 301 Voronoi grids over the demo
area around Xi'an's Xiyi Road. The per-point loop runs on a sample and its time
for all points is extrapolated (and labelled so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.geo import GridLocator  # noqa: E402

GRIDS_FILE = ROOT / "data" / "xiyilu" / "grids.geojson"
# lon/lat box around Xiyi Road, Xi'an (~3.2 km x 2.2 km)
DEMO_AREA = box(108.940, 34.260, 108.975, 34.280)
SEED = 20240601


def demo_locator(n_grids: int) -> tuple[GridLocator, str]:
    rng = np.random.default_rng(SEED)
    minx, miny, maxx, maxy = DEMO_AREA.bounds
    seeds = MultiPoint(np.column_stack([rng.uniform(minx, maxx, n_grids), rng.uniform(miny, maxy, n_grids)]))
    cells = [c.intersection(DEMO_AREA) for c in shapely.voronoi_polygons(seeds, extend_to=DEMO_AREA).geoms]
    return GridLocator(range(len(cells)), cells), f"{len(cells)} synthetic Voronoi grids"


def file_locator(path: Path) -> tuple[GridLocator, str]:
    import geopandas as gpd

    gdf = gpd.read_file(path)
    id_column = next((c for c in ("grid_id", "id", "code") if c in gdf.columns), None)
    if id_column is None:
        gdf = gdf.reset_index(names="row")
        id_column = "row"
    return GridLocator.from_geodataframe(gdf, id_column), f"{len(gdf)} grids from {path.relative_to(ROOT)} (id column {id_column!r})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    parser.add_argument("--brute-sample", type=int, default=2_000, help="points for the no-index covers loop")
    parser.add_argument("--grids", type=int, default=301, help="synthetic grid count when no grids file")
    parser.add_argument("--synthetic", action="store_true", help="ignore data/xiyilu/grids.geojson")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if GRIDS_FILE.exists() and not args.synthetic:
        locator, source = file_locator(GRIDS_FILE)
    else:
        locator, source = demo_locator(args.grids)
    build_s = time.perf_counter() - t0

    # Points over the grids' extent plus 10 % on each side, so some fall outside.
    rng = np.random.default_rng(SEED + 1)
    min_lat, min_lon, max_lat, max_lon = locator.bounds
    pad_lat, pad_lon = 0.1 * (max_lat - min_lat), 0.1 * (max_lon - min_lon)
    lats = rng.uniform(min_lat - pad_lat, max_lat + pad_lat, args.points)
    lons = rng.uniform(min_lon - pad_lon, max_lon + pad_lon, args.points)

    locator.locate_many(lats[:1000], lons[:1000])  # warm-up
    t0 = time.perf_counter()
    ids = locator.locate_many(lats, lons)
    vec_s = time.perf_counter() - t0
    outside = sum(i is None for i in ids)

    n = min(args.loop_sample, args.points)
    t0 = time.perf_counter()
    loop_ids = [locator.locate(la, lo) for la, lo in zip(lats[:n].tolist(), lons[:n].tolist())]
    loop_s = time.perf_counter() - t0
    mismatches = sum(a != b for a, b in zip(loop_ids, ids[:n]))
    loop_rate = n / loop_s
    loop_all_s = args.points / loop_rate

    # For context: what a loop with no spatial index at all (every polygon.covers) costs.
    m = min(args.brute_sample, args.points)
    polys, grid_ids = locator.polygons, locator.ids
    t0 = time.perf_counter()
    brute_ids = [
        next((g for g, poly in zip(grid_ids, polys) if poly.covers(Point(lo, la))), None)
        for la, lo in zip(lats[:m].tolist(), lons[:m].tolist())
    ]
    brute_s = time.perf_counter() - t0
    mismatches += sum(a != b for a, b in zip(brute_ids, ids[:m]))
    brute_rate = m / brute_s

    print(f"grids:            {source}, index built in {build_s * 1000:.0f} ms")
    print(f"points:           {args.points:,} (seed {SEED + 1}), {outside:,} outside every grid")
    print(f"locate_many:      {vec_s:.2f} s for {args.points:,} points -> {args.points / vec_s:,.0f} points/s")
    print(f"locate loop:      {loop_s:.2f} s for {n:,}-point sample -> {loop_rate:,.0f} points/s")
    print(f"locate loop, all: {loop_all_s:.1f} s for {args.points:,} points (EXTRAPOLATED from the sample)")
    print(f"speed-up:         {loop_all_s / vec_s:.1f}x over the locate loop")
    print(f"no-index loop:    {brute_rate:,.0f} points/s on a {m:,}-point sample -> {args.points / brute_rate:,.0f} s for all "
          f"(EXTRAPOLATED), {args.points / brute_rate / vec_s:,.0f}x slower than locate_many")
    print(f"sample agreement: {mismatches} mismatches (locate loop on {n:,}, no-index loop on {m:,})")
    if mismatches:
        raise SystemExit(f"locate and locate_many disagree on {mismatches} points")


if __name__ == "__main__":
    main()
