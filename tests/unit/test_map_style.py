"""Every map page's MapLibre style keeps a non-empty ``sources``: Plotly drops an empty one when a dcc.Graph
figure is updated, MapLibre refuses the style, and that graph never updates again (the /wall-poll bench page
showed it: its map froze after the first update)."""
from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

from layouts import briefing, mobile, patrol
from layouts.map_style import local_style
from layouts.wall import map as wall_map

console = importlib.import_module("layouts.console.layout")  # the package's `layout` is a function


def _settings(tile_url=None, crs="wgs84"):
    return SimpleNamespace(tile_url=tile_url, tile_crs=crs, tile_attribution="")


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
@pytest.mark.parametrize("tiles", [None, "http://tiles.intranet/{z}/{x}/{y}.png"])
def test_every_page_style_has_sources_and_only_local_or_configured_ones(tiles, crs):
    # GCJ-02 tiles too: every map page draws them (/patrol used to drop them), its figure projected to match
    styles = {"briefing": briefing.map_style(), "mobile": mobile.map_style(_settings(tiles, crs)),
              "patrol": patrol.map_style(_settings(tiles, crs)), "console": console.map_style(_settings(tiles, crs)),
              "wall": wall_map.map_style(_settings(tiles, crs))}
    for page, style in styles.items():
        assert style["sources"], page
        assert "glyphs" not in style and "sprite" not in style, page
        for name, src in style["sources"].items():
            assert src["type"] in ("geojson", "raster"), (page, name)
            assert src["type"] == "geojson" or src["tiles"] == [tiles], (page, name)
        if tiles and page != "briefing":
            assert [src["tiles"] for src in style["sources"].values() if src["type"] == "raster"] == [[tiles]], page
        assert {lyr.get("source") for lyr in style["layers"]} - {None} <= set(style["sources"]), page


def test_wall_map_is_transparent_and_tiles_sit_half_transparent_over_the_shading():
    assert not [lyr for lyr in wall_map.map_style(_settings())["layers"] if lyr["type"] == "background"]
    tiles = wall_map.map_style(_settings("http://t/{z}/{x}/{y}.png"))["layers"]
    assert [lyr["paint"]["raster-opacity"] for lyr in tiles if lyr["type"] == "raster"] == [0.55]
    assert local_style("#000")["layers"][0]["paint"] == {"background-color": "#000"}


def test_the_empty_source_survives_plotly_json():
    import plotly.graph_objects as go

    fig = go.Figure(go.Scattermap(lat=[34.27], lon=[108.95]))
    fig.update_layout(map={"style": local_style(None)})
    assert json.loads(fig.to_json())["layout"]["map"]["style"]["sources"]["empty"]["type"] == "geojson"


def test_projector_moves_rings_and_points_only_for_gcj02_and_names_the_datum():
    from dashboard.geo.coords import wgs84_to_gcj02
    from layouts.map_style import Projector

    ring = [[108.9423, 34.2610], [108.95, 34.27], [108.9423, 34.2610]]
    plain, gcj = Projector("wgs84"), Projector("GCJ02")
    assert plain.ring(ring) == ring and plain.meta == {"crs": "wgs84"}
    lat, lon = wgs84_to_gcj02(34.27, 108.95)
    assert gcj.ring(ring)[1] == [round(lon, 6), round(lat, 6)] and gcj.meta == {"crs": "gcj02"}
    multi = gcj.geometry({"type": "MultiPolygon", "coordinates": [[ring]]})
    assert multi["type"] == "MultiPolygon" and multi["coordinates"][0][0] == gcj.ring(ring)
