"""The MapLibre style every map page uses: local sources only, no glyphs, tiles only from a configured URL.

``sources`` is never empty: Plotly drops an empty ``sources`` dict from a figure it re-plots
(``Plotly.react``, i.e. every dcc.Graph figure update), MapLibre then refuses the style
("missing required property sources") and dcc.Graph's update queue stops for good after that
one rejected plot — the map never changes again. An empty local GeoJSON source avoids it.
"""
from __future__ import annotations

from typing import Any

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
