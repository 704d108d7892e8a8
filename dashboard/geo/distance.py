"""Great-circle distance on a sphere, vectorised."""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_RADIUS_M", "haversine_m"]

# IUGG mean Earth radius; the spherical model is good to ~0.5 % which is plenty
# for "how far is the worker" and for test tolerances in metres.
EARTH_RADIUS_M = 6371008.8


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> Union[float, NDArray[np.float64]]:
    """Return the haversine distance in metres between (lat1, lon1) and (lat2, lon2).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float or array_like
        Degrees; arrays broadcast together.

    Returns
    -------
    float or numpy.ndarray
        Distance in metres; a float when every input is scalar.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d
