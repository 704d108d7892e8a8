"""Point-to-grid lookup over a tessellation of grid polygons.

Spatial index first (shapely STRtree), exact geometry second, all in bulk: one
``tree.query`` call for a whole array of points, no Python loop per point.
Coordinates are WGS-84 degrees; polygons are in (x=lon, y=lat) order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable, Optional, Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from dashboard.geo.distance import haversine_m

if TYPE_CHECKING:  # geopandas is only needed by the from_geodataframe constructor
    import geopandas as gpd

__all__ = ["GridLocator"]

OUTSIDE = -1


class GridLocator:
    """Find which grid polygon covers a point.

    A point on an edge shared by several grids is assigned to exactly one of
    them: the one given first (lowest position in ``ids``), so answers are
    deterministic and equal a "first polygon that covers the point" loop.

    Parameters
    ----------
    ids : sequence of hashable
        Grid ids, one per polygon, unique.
    polygons : sequence of shapely Polygon or MultiPolygon
        Grid shapes in WGS-84 (x = lon, y = lat).
    """

    def __init__(self, ids: Sequence[Hashable], polygons: Sequence[BaseGeometry]) -> None:
        ids_list = list(ids)
        geoms = np.asarray(list(polygons), dtype=object)
        if len(ids_list) != len(geoms):
            raise ValueError(f"got {len(ids_list)} ids for {len(geoms)} polygons")
        if len(set(ids_list)) != len(ids_list):
            raise ValueError("grid ids must be unique")
        if len(geoms) and not np.all(shapely.is_valid(geoms)):
            bad = [ids_list[i] for i in np.flatnonzero(~shapely.is_valid(geoms))[:5]]
            raise ValueError(f"invalid grid polygons, e.g. ids {bad}")
        self._ids: NDArray[Any] = np.empty(len(ids_list), dtype=object)
        self._ids[:] = ids_list
        self._geoms = geoms
        self._tree = shapely.STRtree(geoms)
        shapely.prepare(geoms)

    @classmethod
    def from_geodataframe(cls, gdf: "gpd.GeoDataFrame", id_column: str) -> "GridLocator":
        """Build a locator from a GeoDataFrame, reprojecting to WGS-84 if needed."""
        if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
            gdf = gdf.to_crs(epsg=4326)
        return cls(gdf[id_column].tolist(), gdf.geometry.values)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> NDArray[Any]:
        """Grid ids in construction order (object array, a copy)."""
        return self._ids.copy()

    @property
    def polygons(self) -> NDArray[Any]:
        """Grid polygons in construction order (object array, a copy)."""
        return self._geoms.copy()

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box of all grids as (min_lat, min_lon, max_lat, max_lon)."""
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(self._geoms)
        return float(min_lat), float(min_lon), float(max_lat), float(max_lon)

    def locate_indices(self, lats: ArrayLike, lons: ArrayLike) -> NDArray[np.int64]:
        """Return, per point, the position of its grid in ``ids``, or -1 outside.

        Parameters
        ----------
        lats, lons : array_like
            WGS-84 degrees, same shape (broadcast together).

        Returns
        -------
        numpy.ndarray of int64
            Same shape as the broadcast input; NaN coordinates give -1.
        """
        lat_a, lon_a = np.broadcast_arrays(np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64))
        points = shapely.points(lon_a.ravel(), lat_a.ravel())
        point_idx, grid_idx = self._tree.query(points, predicate="intersects")
        # Several hits only happen on shared edges and vertices; keep the lowest grid
        # position so the answer does not depend on the tree's traversal order.
        result = np.full(points.shape[0], len(self._ids), dtype=np.int64)
        np.minimum.at(result, point_idx, grid_idx)
        result[result == len(self._ids)] = OUTSIDE
        return result.reshape(lat_a.shape)

    def locate_many(self, lats: ArrayLike, lons: ArrayLike) -> NDArray[Any]:
        """Return, per point, the id of the grid covering it, or None outside.

        Parameters
        ----------
        lats, lons : array_like
            WGS-84 degrees, same shape.

        Returns
        -------
        numpy.ndarray of object
            Grid ids, None where no grid covers the point.
        """
        idx = self.locate_indices(lats, lons)
        out = np.empty(idx.shape, dtype=object)
        inside = idx != OUTSIDE
        out[inside] = self._ids[idx[inside]]
        return out

    def locate(self, lat: float, lon: float) -> Optional[Hashable]:
        """Return the id of the grid covering (lat, lon), or None."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self._ids[hits.min()] if hits.size else None

    def nearest(self, lat: float, lon: float) -> tuple[Optional[Hashable], float]:
        """Return (id, distance_m) of the grid nearest to (lat, lon).

        Meant for flagging a report that falls just outside every grid; a point
        inside a grid gives distance 0. The distance is to the closest point of the
        grid's boundary, measured with the haversine formula.
        """
        if not len(self._ids):
            return None, float("inf")
        point = shapely.Point(lon, lat)
        covering = self.locate(lat, lon)
        if covering is not None:
            return covering, 0.0
        # The tree measures in degrees, where a degree of longitude is shorter than one
        # of latitude; gather every grid that could be nearest in metres and compare
        # those by haversine distance.
        planar = float(shapely.distance(self._geoms[self._tree.query_nearest(point)[0]], point))
        reach = planar / max(np.cos(np.radians(lat)), 1e-6)
        candidates = np.sort(self._tree.query(point, predicate="dwithin", distance=reach))
        near = shapely.get_point(shapely.shortest_line(self._geoms[candidates], point), 0)
        dist = np.asarray(haversine_m(lat, lon, shapely.get_y(near), shapely.get_x(near)))
        best = int(np.argmin(dist))  # argmin keeps the lowest position on ties
        return self._ids[candidates[best]], float(dist[best])

    def contains_all(self, lats: ArrayLike, lons: ArrayLike) -> bool:
        """Tell whether every point falls in some grid."""
        return bool(np.all(self.locate_indices(lats, lons) != OUTSIDE))
