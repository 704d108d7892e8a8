"""Conversions between WGS-84, GCJ-02 (Amap, Tencent) and BD-09 (Baidu).

We store WGS-84 (PROTOCOLS.md Part D). GCJ-02 is the obfuscated datum Chinese map
tiles are drawn in; BD-09 is Baidu's further offset of GCJ-02. Every function takes
and returns ``(lat, lon)`` in degrees, accepts scalars or numpy arrays (broadcast
together) and returns floats for scalar input, arrays otherwise.
"""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
    "SUPPORTED_CRS",
]

Coord = Union[float, NDArray[np.float64]]

# Krasovsky 1940 ellipsoid, which GCJ-02 is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 10

SUPPORTED_CRS = ("wgs84", "gcj02", "bd09")


def _as_arrays(lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    scalar = lat_a.ndim == 0 and lon_a.ndim == 0
    lat_a, lon_a = np.broadcast_arrays(lat_a, lon_a)
    return lat_a, lon_a, scalar


def _out(lat: NDArray[np.float64], lon: NDArray[np.float64], scalar: bool) -> tuple[Coord, Coord]:
    if scalar:
        return float(lat), float(lon)
    return lat, lon


def _out_of_china(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.bool_]:
    # The customary bounding box, not a border: it also covers parts of neighbouring
    # countries, which is what every GCJ-02 implementation (and the map vendors) do.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def out_of_china(lat: ArrayLike, lon: ArrayLike) -> Union[bool, NDArray[np.bool_]]:
    """Tell whether points lie outside the box where GCJ-02 applies.

    Parameters
    ----------
    lat, lon : float or array_like
        Latitude and longitude in degrees.

    Returns
    -------
    bool or numpy.ndarray of bool
        True where the point is outside China's bounding box.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    result = _out_of_china(lat_a, lon_a)
    return bool(result) if scalar else result


def _gcj_offset(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the GCJ-02 shift (dlat, dlon) in degrees at WGS-84 points."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlat, dlon


def _wgs_to_gcj(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    dlat, dlon = _gcj_offset(lat, lon)
    outside = _out_of_china(lat, lon)
    return np.where(outside, lat, lat + dlat), np.where(outside, lon, lon + dlon)


def _gcj_to_wgs(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    # Fixed-point iteration w <- w - (f(w) - g), starting at w = g. The offset field is
    # smooth and small, so each step gains roughly three orders of magnitude; 2-3
    # iterations reach the 1e-9 deg (~0.1 mm) tolerance.
    outside = _out_of_china(lat, lon)
    w_lat = lat.copy()
    w_lon = lon.copy()
    for _ in range(_INVERSE_MAX_ITER):
        g_lat, g_lon = _wgs_to_gcj(w_lat, w_lon)
        err_lat = g_lat - lat
        err_lon = g_lon - lon
        w_lat = w_lat - err_lat
        w_lon = w_lon - err_lon
        if w_lat.size == 0 or max(np.max(np.abs(err_lat)), np.max(np.abs(err_lon))) < _INVERSE_TOL_DEG:
            break
    return np.where(outside, lat, w_lat), np.where(outside, lon, w_lon)


def _gcj_to_bd(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def _bd_to_gcj(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.sin(theta), z * np.cos(theta)


def wgs84_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert WGS-84 to GCJ-02; points outside China are returned unchanged.

    Parameters
    ----------
    lat, lon : float or array_like
        WGS-84 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        GCJ-02 latitude and longitude in degrees.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    return _out(*_wgs_to_gcj(lat_a, lon_a), scalar)


def gcj02_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert GCJ-02 to WGS-84 by fixed-point iteration (< 1e-9 deg or 10 steps).

    Parameters
    ----------
    lat, lon : float or array_like
        GCJ-02 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        WGS-84 latitude and longitude in degrees; points outside China unchanged.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    return _out(*_gcj_to_wgs(lat_a, lon_a), scalar)


def gcj02_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert GCJ-02 to BD-09 (pure transform, applied everywhere).

    Parameters
    ----------
    lat, lon : float or array_like
        GCJ-02 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        BD-09 latitude and longitude in degrees.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    return _out(*_gcj_to_bd(lat_a, lon_a), scalar)


def bd09_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert BD-09 to GCJ-02 with the customary closed-form inverse.

    The closed form is not an exact inverse of :func:`gcj02_to_bd09`; the residual
    is of the order of centimetres, far below anything we draw or store.

    Parameters
    ----------
    lat, lon : float or array_like
        BD-09 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        GCJ-02 latitude and longitude in degrees.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    return _out(*_bd_to_gcj(lat_a, lon_a), scalar)


def wgs84_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert WGS-84 to BD-09; points outside China are returned unchanged.

    Parameters
    ----------
    lat, lon : float or array_like
        WGS-84 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        BD-09 latitude and longitude in degrees.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    b_lat, b_lon = _gcj_to_bd(*_wgs_to_gcj(lat_a, lon_a))
    outside = _out_of_china(lat_a, lon_a)
    return _out(np.where(outside, lat_a, b_lat), np.where(outside, lon_a, b_lon), scalar)


def bd09_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[Coord, Coord]:
    """Convert BD-09 to WGS-84; points outside China are returned unchanged.

    Parameters
    ----------
    lat, lon : float or array_like
        BD-09 latitude and longitude in degrees.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        WGS-84 latitude and longitude in degrees.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    w_lat, w_lon = _gcj_to_wgs(*_bd_to_gcj(lat_a, lon_a))
    outside = _out_of_china(lat_a, lon_a)
    return _out(np.where(outside, lat_a, w_lat), np.where(outside, lon_a, w_lon), scalar)


_TO_WGS84 = {
    "wgs84": None,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def to_wgs84(lat: ArrayLike, lon: ArrayLike, crs: str) -> tuple[Coord, Coord]:
    """Convert points given in ``crs`` ("wgs84", "gcj02" or "bd09") to WGS-84.

    Parameters
    ----------
    lat, lon : float or array_like
        Latitude and longitude in degrees, in ``crs``.
    crs : str
        One of ``SUPPORTED_CRS``, case-insensitive.

    Returns
    -------
    (lat, lon) : tuple of float or numpy.ndarray
        WGS-84 latitude and longitude in degrees.

    Raises
    ------
    ValueError
        If ``crs`` is not supported.
    """
    key = crs.strip().lower() if isinstance(crs, str) else crs
    if key not in _TO_WGS84:
        raise ValueError(f"unsupported crs {crs!r}; expected one of {', '.join(SUPPORTED_CRS)}")
    convert = _TO_WGS84[key]
    if convert is None:
        lat_a, lon_a, scalar = _as_arrays(lat, lon)
        return _out(lat_a.copy(), lon_a.copy(), scalar)
    return convert(lat, lon)
