"""The MapLibre style every map page uses (local sources only, no glyphs, tiles only from a configured URL), and
the one conversion of stored WGS-84 into the datum of those tiles (``Projector``, GC_TILE_CRS).

Every map page (/wall, /m, /console, /patrol) builds its figure through ``Projector`` and writes the datum into
``layout.meta.crs``; what the page's script adds later goes through GCGeo (assets/09-gc-geo.js), the same
formulas in the browser (tests/unit/test_coords_js.py holds them equal).

``sources`` is never empty: Plotly drops an empty ``sources`` dict from a figure it re-plots
(``Plotly.react``, i.e. every dcc.Graph figure update), MapLibre then refuses the style
("missing required property sources") and dcc.Graph's update queue stops for good after that
one rejected plot — the map never changes again. An empty local GeoJSON source avoids it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from dashboard.geo.coords import wgs84_to_gcj02

EMPTY_SOURCE = {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}


def local_style(background: str | None, tile_url: str | None = None, *, attribution: str = "",
                raster_paint: dict[str, Any] | None = None) -> dict[str, Any]:
    """A style with a plain ``background`` colour (None: transparent, the page shows through) and, when
    ``tile_url`` is set, one raster tile layer over it."""
    style: dict[str, Any] = {"version": 8, "sources": {"empty": dict(EMPTY_SOURCE)}, "layers": []}
    if background:
        style["layers"].append({"id": "bg", "type": "background", "paint": {"background-color": background}})
    if tile_url:
        style["sources"]["tiles"] = {"type": "raster", "tiles": [tile_url], "tileSize": 256, "attribution": attribution}
        layer: dict[str, Any] = {"id": "tiles", "type": "raster", "source": "tiles"}
        if raster_paint:
            layer["paint"] = raster_paint
        style["layers"].append(layer)
    return style


class Projector:
    """Turns stored WGS-84 into what the tiles expect (GCJ-02 for 高德/腾讯/天地图-GCJ tiles)."""

    def __init__(self, crs: str) -> None:
        self.crs = "gcj02" if (crs or "").lower() == "gcj02" else "wgs84"
        self.gcj = self.crs == "gcj02"

    def __call__(self, lat, lon):
        if not self.gcj:
            return lat, lon
        return wgs84_to_gcj02(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))

    def ring(self, coords: list) -> list:
        """A GeoJSON ring ``[[lon, lat], …]`` in the tiles' datum, rounded to 6 decimals (~0.1 m)."""
        arr = np.asarray(coords, dtype=float)
        if not self.gcj:
            return np.round(arr[:, :2], 6).tolist()
        lat, lon = self(arr[:, 1], arr[:, 0])
        return np.round(np.column_stack([lon, lat]), 6).tolist()

    def geometry(self, geom: dict) -> dict:
        """A Polygon or MultiPolygon with every ring projected."""
        if geom["type"] == "Polygon":
            return {"type": "Polygon", "coordinates": [self.ring(r) for r in geom["coordinates"]]}
        return {"type": "MultiPolygon", "coordinates": [[self.ring(r) for r in p] for p in geom["coordinates"]]}

    @property
    def meta(self) -> dict[str, str]:
        """The figure's ``layout.meta``: the datum its page script converts live points into (GCGeo.crsOf)."""
        return {"crs": self.crs}


def projector(settings) -> Projector:
    """The projector of the configured tiles (``GC_TILE_CRS``)."""
    return Projector(getattr(settings, "tile_crs", "wgs84") or "wgs84")
