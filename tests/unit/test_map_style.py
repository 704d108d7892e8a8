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


@pytest.mark.parametrize("tiles", [None, "http://tiles.intranet/{z}/{x}/{y}.png"])
def test_every_page_style_has_sources_and_only_local_or_configured_ones(tiles):
    styles = {"briefing": briefing.map_style(), "mobile": mobile.map_style(_settings(tiles)),
              "patrol": patrol.map_style(_settings(tiles)), "console": console.map_style(_settings(tiles)),
              "wall": wall_map.map_style(_settings(tiles))}
    for page, style in styles.items():
        assert style["sources"], page
        assert "glyphs" not in style and "sprite" not in style, page
        for name, src in style["sources"].items():
            assert src["type"] in ("geojson", "raster"), (page, name)
            assert src["type"] == "geojson" or src["tiles"] == [tiles], (page, name)
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
