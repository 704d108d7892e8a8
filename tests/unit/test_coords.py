"""WGS-84 / GCJ-02 / BD-09 conversions."""

import numpy as np
import pytest

from dashboard.geo import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

BELL_TOWER = (34.2610, 108.9423)  # Xi'an, WGS-84
PARIS = (48.8566, 2.3522)


@pytest.fixture(scope="module")
def china_points():
    # Inside the "China" box used by GCJ-02, which is where the round trip matters.
    rng = np.random.default_rng(20240601)
    lat = rng.uniform(18.0, 53.0, 10_000)
    lon = rng.uniform(74.0, 134.0, 10_000)
    return lat, lon


def test_round_trip_wgs_gcj_wgs_below_1m(china_points):
    lat, lon = china_points
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    err = haversine_m(lat, lon, *back)
    assert err.shape == lat.shape
    assert err.max() < 1.0
    # The fixed-point inverse is far better than the 1 m contract: sub-millimetre.
    assert err.max() < 1e-3


def test_round_trip_wgs_bd_wgs_below_1m(china_points):
    lat, lon = china_points
    back = bd09_to_wgs84(*wgs84_to_bd09(lat, lon))
    assert haversine_m(lat, lon, *back).max() < 1.0


def test_round_trip_gcj_bd_gcj_below_1m(china_points):
    lat, lon = china_points
    back = bd09_to_gcj02(*gcj02_to_bd09(lat, lon))
    assert haversine_m(lat, lon, *back).max() < 1.0


def test_conversions_actually_move_points_in_china(china_points):
    # Guards against a round trip that passes because nothing was converted.
    lat, lon = china_points
    # The GCJ shift varies over China (tens of metres to ~700 m), never zero.
    gcj_shift = haversine_m(lat, lon, *wgs84_to_gcj02(lat, lon))
    assert gcj_shift.min() > 10.0 and np.median(gcj_shift) > 200.0
    assert haversine_m(lat, lon, *wgs84_to_bd09(lat, lon)).min() > 100.0


def test_bell_tower_shift_matches_measurement():
    lat, lon = BELL_TOWER
    gcj = wgs84_to_gcj02(lat, lon)
    bd = wgs84_to_bd09(lat, lon)
    assert haversine_m(lat, lon, *gcj) == pytest.approx(461.0, abs=30.0)
    assert haversine_m(lat, lon, *bd) == pytest.approx(1140.0, abs=60.0)
    # At Xi'an GCJ-02 moves points east and slightly south.
    assert gcj[1] > lon and gcj[0] < lat


def test_scalars_in_scalars_out():
    gcj = wgs84_to_gcj02(*BELL_TOWER)
    assert all(isinstance(v, float) for v in gcj)
    assert isinstance(out_of_china(*BELL_TOWER), bool)
    assert isinstance(haversine_m(0, 0, 0, 1), float)


def test_arrays_broadcast_and_keep_shape():
    lat = np.full((2, 3), BELL_TOWER[0])
    g_lat, g_lon = wgs84_to_gcj02(lat, BELL_TOWER[1])
    assert g_lat.shape == g_lon.shape == (2, 3)
    assert np.allclose(g_lat, wgs84_to_gcj02(*BELL_TOWER)[0])


@pytest.mark.parametrize(
    "convert",
    [wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84],
)
def test_outside_china_unchanged(convert):
    assert out_of_china(*PARIS) is True
    assert convert(*PARIS) == PARIS


def test_mixed_array_only_moves_points_in_china():
    lat = np.array([PARIS[0], BELL_TOWER[0]])
    lon = np.array([PARIS[1], BELL_TOWER[1]])
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    assert (g_lat[0], g_lon[0]) == PARIS
    assert (g_lat[1], g_lon[1]) != BELL_TOWER
    w_lat, w_lon = gcj02_to_wgs84(g_lat, g_lon)
    assert haversine_m(lat, lon, w_lat, w_lon).max() < 1e-3


# Published pairs: googollee/eviltransform's test suite (WGS-84 -> GCJ-02).
@pytest.mark.parametrize(
    "wgs,gcj",
    [
        ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
        ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
        ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
    ],
)
def test_known_wgs_to_gcj_vectors(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


def test_known_gcj_to_bd_vector():
    # hujiulong/gcoord's test: GCJ-02 (45N, 123E) -> BD-09.
    assert gcj02_to_bd09(45.0, 123.0) == pytest.approx((45.00636899, 123.00636499), abs=1e-7)


@pytest.mark.parametrize("crs", ["wgs84", "WGS84", " gcj02 ", "GCJ02", "bd09", "BD09"])
def test_to_wgs84_accepts_each_crs_case_insensitively(crs):
    key = crs.strip().lower()
    lat, lon = BELL_TOWER
    given = {"wgs84": (lat, lon), "gcj02": wgs84_to_gcj02(lat, lon), "bd09": wgs84_to_bd09(lat, lon)}[key]
    back = to_wgs84(*given, crs=crs)
    assert haversine_m(lat, lon, *back) < 1.0


def test_to_wgs84_rejects_unknown_crs_naming_it():
    with pytest.raises(ValueError, match="epsg:3857"):
        to_wgs84(34.0, 108.0, "epsg:3857")


def test_haversine_known_distance():
    # One degree of arc on the mean-radius sphere.
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195.08, abs=0.1)
    assert haversine_m(BELL_TOWER[0], BELL_TOWER[1], *BELL_TOWER) == 0.0
