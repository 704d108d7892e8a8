"""Geo core: coordinate systems, distances and point-to-grid lookup (WGS-84 stored)."""

from dashboard.geo.coords import (
    SUPPORTED_CRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from dashboard.geo.distance import EARTH_RADIUS_M, haversine_m
from dashboard.geo.locate import GridLocator

__all__ = [
    "SUPPORTED_CRS",
    "EARTH_RADIUS_M",
    "GridLocator",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
