"""GridLocator: vectorised point-to-grid lookup against a brute-force loop."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, box

from dashboard.geo import GridLocator, haversine_m

# A box near Xi'an's Xiyi Road, lon/lat order as shapely wants it.
AREA = box(108.940, 34.260, 108.975, 34.280)


def voronoi_grids(n: int = 300, seed: int = 7) -> list:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = AREA.bounds
    seeds = MultiPoint(np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)]))
    cells = shapely.voronoi_polygons(seeds, extend_to=AREA)
    return [cell.intersection(AREA) for cell in cells.geoms]


@pytest.fixture(scope="module")
def grids():
    polys = voronoi_grids()
    ids = [f"G{i:03d}" for i in range(len(polys))]
    return ids, polys, GridLocator(ids, polys)


@pytest.fixture(scope="module")
def random_points():
    # Sample a box 20 % larger than the grids so some points fall outside.
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = AREA.buffer(0.2 * (AREA.bounds[2] - AREA.bounds[0]), join_style="mitre").bounds
    return rng.uniform(miny, maxy, 10_000), rng.uniform(minx, maxx, 10_000)


def brute_force(ids, polys, lats, lons):
    out = []
    for lat, lon in zip(lats, lons):
        point = Point(lon, lat)
        out.append(next((gid for gid, poly in zip(ids, polys) if poly.covers(point)), None))
    return np.array(out, dtype=object)


def test_tessellation_is_what_we_think(grids):
    ids, polys, _ = grids
    assert len(polys) == 300
    assert shapely.union_all(polys).area == pytest.approx(AREA.area, rel=1e-9)


def test_locate_many_equals_brute_force(grids, random_points):
    ids, polys, locator = grids
    lats, lons = random_points
    got = locator.locate_many(lats, lons)
    expected = brute_force(ids, polys, lats, lons)
    assert got.dtype == object and got.shape == (10_000,)
    assert (got == expected).all()
    outside = np.array([e is None for e in expected])
    # The sample must exercise both cases or the comparison proves little.
    assert 1_000 < outside.sum() < 9_000


def test_scalar_locate_agrees_with_locate_many(grids, random_points):
    _, _, locator = grids
    lats, lons = (a[:2_000] for a in random_points)
    many = locator.locate_many(lats, lons)
    assert [locator.locate(la, lo) for la, lo in zip(lats, lons)] == list(many)


def test_locate_indices_match_ids(grids, random_points):
    ids, _, locator = grids
    idx = locator.locate_indices(*random_points)
    many = locator.locate_many(*random_points)
    assert idx.dtype == np.int64
    assert ((idx == -1) == np.array([m is None for m in many])).all()
    assert all(ids[i] == m for i, m in zip(idx, many) if i >= 0)


def test_boundary_points_go_to_exactly_one_grid(grids):
    ids, polys, locator = grids
    # Polygon vertices are shared exactly by two or three neighbours (and lie on
    # the outer box edge): the hardest case for "exactly one grid".
    coords = np.unique(np.concatenate([shapely.get_coordinates(p.exterior) for p in polys]), axis=0)
    lons, lats = coords[:, 0], coords[:, 1]
    covering = [[i for i, p in enumerate(polys) if p.covers(Point(x, y))] for x, y in coords]
    assert sum(len(c) >= 2 for c in covering) > 300
    got = locator.locate_many(lats, lons)
    assert None not in list(got)
    assert list(got) == [ids[min(c)] for c in covering]
    assert [locator.locate(la, lo) for la, lo in zip(lats, lons)] == list(got)
    assert (got == brute_force(ids, polys, lats, lons)).all()


def test_point_on_shared_edge_of_two_squares_picks_first():
    locator = GridLocator(["west", "east"], [box(0, 0, 1, 1), box(1, 0, 2, 1)])
    assert locator.locate(0.5, 1.0) == "west"
    assert list(locator.locate_many([0.5, 0.5, 0.5], [1.0, 0.5, 1.5])) == ["west", "west", "east"]
    # Order of construction decides, not the geometry.
    flipped = GridLocator(["east", "west"], [box(1, 0, 2, 1), box(0, 0, 1, 1)])
    assert flipped.locate(0.5, 1.0) == "east"


def test_outside_and_nan_points():
    locator = GridLocator([1, 2], [box(0, 0, 1, 1), box(1, 0, 2, 1)])
    got = locator.locate_many([5.0, np.nan, 0.5], [5.0, 0.5, 0.5])
    assert list(got) == [None, None, 1]
    assert list(locator.locate_indices([5.0, 0.5], [5.0, 1.5])) == [-1, 1]
    assert locator.locate(5.0, 5.0) is None
    assert locator.contains_all([0.5, 0.1], [0.5, 1.9])
    assert not locator.contains_all([0.5, 5.0], [0.5, 5.0])


def test_shape_is_kept_for_2d_input():
    locator = GridLocator(["a"], [box(0, 0, 1, 1)])
    got = locator.locate_many(np.full((2, 3), 0.5), np.full((2, 3), 0.5))
    assert got.shape == (2, 3) and (got == "a").all()


def test_nearest_is_in_metres_not_degrees():
    # At 60N a degree of longitude is half a degree of latitude: the grid 0.15 deg
    # east (~8.3 km) is nearer than the grid 0.1 deg north (~11.1 km).
    north = box(10.0, 60.1, 10.1, 60.2)
    east = box(10.15, 59.9, 10.25, 60.0)
    locator = GridLocator(["north", "east"], [north, east])
    gid, dist = locator.nearest(60.0, 10.0)
    assert gid == "east"
    assert dist == pytest.approx(haversine_m(60.0, 10.0, 60.0, 10.15), rel=1e-6)


def test_nearest_inside_is_zero(grids):
    ids, _, locator = grids
    gid, dist = locator.nearest(34.27, 108.957)
    assert gid == locator.locate(34.27, 108.957) and dist == 0.0


def test_nearest_outside_flags_distance(grids):
    _, polys, locator = grids
    # 0.001 deg of latitude (~111 m) north of the area's top edge.
    gid, dist = locator.nearest(34.281, 108.957)
    assert dist == pytest.approx(111.2, abs=1.0)
    assert polys[list(locator.ids).index(gid)].covers(Point(108.957, 34.28))


def test_bounds_are_lat_lon_order(grids):
    _, _, locator = grids
    assert locator.bounds == pytest.approx((34.260, 108.940, 34.280, 108.975))


def test_from_geodataframe_reprojects_to_wgs84():
    wgs = gpd.GeoDataFrame({"grid_id": ["a", "b"]}, geometry=[box(108.94, 34.26, 108.95, 34.27), box(108.95, 34.26, 108.96, 34.27)], crs="EPSG:4326")
    locator = GridLocator.from_geodataframe(wgs.to_crs(epsg=3857), "grid_id")
    assert locator.locate(34.265, 108.955) == "b"
    assert len(locator) == 2


def test_rejects_mismatched_or_duplicate_ids():
    with pytest.raises(ValueError):
        GridLocator(["a"], [box(0, 0, 1, 1), box(1, 0, 2, 1)])
    with pytest.raises(ValueError, match="unique"):
        GridLocator(["a", "a"], [box(0, 0, 1, 1), box(1, 0, 2, 1)])


def test_ids_and_polygons_are_copies_in_order(grids):
    ids, polys, locator = grids
    assert list(locator.ids) == ids
    assert all(a.equals(b) for a, b in zip(locator.polygons, polys))
    locator.ids[0] = "tampered"
    assert locator.ids[0] == ids[0]
