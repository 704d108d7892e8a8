"""The wall's map figure, built once on the server and never re-sent.

Plotly draws what does not move: grid outlines (a transparent choropleth that also
gives the grid hover), community boundaries and cameras, on a transparent map.
assets/31-wall-map.js draws the live layers on two canvases placed with the map's
projection — the grid shading under the map, workers, cases and alerts over it — and
updates them from the live stream. ``TRACES`` is shared with it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.i18n import t
from dashboard.services.wall_map import wall_map_layers
from dashboard.services.wall_scope import community_shapes, fit_zoom
from layouts.map_style import Projector, local_style

TRACES = {"grids": 0, "communities": 1, "cameras": 2}
CENTER = {"lat": 34.2685, "lon": 108.9545}
BASE_ZOOM = 14.75  # the street fills the map area at the 1920×1080 design size
CLEAR = [[0.0, "rgba(0,0,0,0)"], [1.0, "rgba(0,0,0,0)"]]  # the fill is the browser's shading layer


def map_style(settings) -> dict[str, Any]:
    """A MapLibre style with local sources only and no glyphs: zero outside requests unless tiles are set.

    No background: the map is transparent so the grid shading, a canvas under it, shows through (the
    page behind is the wall's dark blue); tiles, when set, are half transparent over the shading."""
    return local_style(None, settings.tile_url, attribution=settings.tile_attribution or "",
                       raster_paint={"raster-opacity": 0.55, "raster-saturation": -0.6})


def _outline(geom: dict, proj: Projector) -> tuple[list, list]:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    lons: list = []
    lats: list = []
    for poly in polys:
        for ring in poly:
            pts = proj.ring(ring)
            lons += [p[0] for p in pts] + [None]
            lats += [p[1] for p in pts] + [None]
    return lons, lats


def build_map(session, settings, lang: str) -> go.Figure:
    """The whole map figure: grids shaded by open cases (z filled by the page), outlines, cameras, empty live layers."""
    proj = Projector(settings.tile_crs)
    layers = wall_map_layers(session)
    grids = layers.grids
    # a MultiPolygon grid is projected too (it used to be drawn unshifted over GCJ-02 tiles)
    features = [{"type": "Feature", "id": g.id, "properties": {}, "geometry": proj.geometry(g.boundary)}
                for g in grids]
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson={"type": "FeatureCollection", "features": features}, locations=[g.id for g in grids],
        z=[0] * len(grids), zmin=0, zmax=1, colorscale=CLEAR, marker={"line": {"width": 0.6, "color": "#3d6a93"}},
        showscale=False, customdata=[[g.code] for g in grids], text=[g.name for g in grids],
        name=t("wall.layer.grids", lang), hovertemplate="%{text}<br>%{customdata[0]}<extra></extra>"))
    lons: list = []
    lats: list = []
    for boundary in layers.community_boundaries:
        lo, la = _outline(boundary, proj)
        lons += lo
        lats += la
    fig.add_trace(go.Scattermap(lon=lons, lat=lats, mode="lines", line={"width": 2.6, "color": "#7fd1ff"},
                                hoverinfo="skip", name=t("wall.layer.communities", lang)))
    cams = layers.cameras
    clat, clon = proj([c.lat for c in cams], [c.lon for c in cams]) if cams else ([], [])
    # the hover is plain text in the wall's own font (no emoji: a wall PC has no emoji font, and showed a box);
    # customdata carries the camera id: a click opens its picture (assets/72-drilldown.js)
    label, offline, click = (t("wall.hover.camera", lang), t("wall.hover.camera_offline", lang),
                             t("wall.hover.camera_click", lang))
    fig.add_trace(go.Scattermap(
        lat=list(np.round(clat, 6)), lon=list(np.round(clon, 6)), mode="markers",
        marker={"size": 9, "color": ["#9aa7b5" if c.online else "#4b5563" for c in cams], "opacity": 0.85},
        customdata=[[c.id] for c in cams], meta="gc-cameras",
        text=[f"{c.name} ({c.code})" + ("" if c.online else f" · {offline}") for c in cams],
        hovertemplate=f"{label} %{{text}}<br>{click}<extra></extra>", name=t("wall.layer.cameras", lang)))
    mid = layers.centre or (CENTER["lat"], CENTER["lon"])
    center = dict(zip(("lat", "lon"), (float(v) for v in proj(*mid))))
    fig.update_layout(
        map={"style": map_style(settings), "center": center, "zoom": BASE_ZOOM}, meta=proj.meta,
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="rgba(0,0,0,0)", showlegend=False,
        uirevision="wall", hoverlabel={"bgcolor": "#0b1f33", "bordercolor": "#38bdf8",
                                       "font": {"color": "#e6f1ff", "size": 14}})
    return fig


MAP_SIZE = (936, 964)  # the map's design size (30-wall.css .wall-map-slot)


def build_wide_map(session, settings, lang: str, community_id: int | None = None) -> go.Figure:
    """A district's or a city's map: one transparent shape per community (hover: its name) in place of every grid,
    opened on the whole area, not on a corner of it. The page draws the shading per community, and the grids of
    its view once zoomed in (assets/31-wall-map.js, /api/v1/wall/grids)."""
    proj = Projector(settings.tile_crs)
    shapes = community_shapes(session, community_id)
    features = [{"type": "Feature", "id": c["id"], "properties": {}, "geometry": proj.geometry(c["geometry"])}
                for c in shapes]
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson={"type": "FeatureCollection", "features": features}, locations=[c["id"] for c in shapes],
        z=[0] * len(shapes), zmin=0, zmax=1, colorscale=CLEAR, marker={"line": {"width": 1.2, "color": "#5f8fbf"}},
        showscale=False, text=[c["name"] for c in shapes], name=t("wall.layer.communities", lang), meta="gc-communities",
        hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(go.Scattermap(lon=[], lat=[], mode="lines", line={"width": 2.6, "color": "#7fd1ff"},
                                hoverinfo="skip", name=t("wall.layer.communities", lang)))
    cams = wall_map_layers(session).cameras
    clat, clon = proj([c.lat for c in cams], [c.lon for c in cams]) if cams else ([], [])
    label, offline, click = (t("wall.hover.camera", lang), t("wall.hover.camera_offline", lang),
                             t("wall.hover.camera_click", lang))
    fig.add_trace(go.Scattermap(
        lat=list(np.round(clat, 6)), lon=list(np.round(clon, 6)), mode="markers",
        marker={"size": 9, "color": ["#9aa7b5" if c.online else "#4b5563" for c in cams], "opacity": 0.85},
        customdata=[[c.id] for c in cams], meta="gc-cameras",
        text=[f"{c.name} ({c.code})" + ("" if c.online else f" · {offline}") for c in cams],
        hovertemplate=f"{label} %{{text}}<br>{click}<extra></extra>", name=t("wall.layer.cameras", lang)))
    xs = [x for f in features for x in _xs(f["geometry"], 0)]
    ys = [y for f in features for y in _xs(f["geometry"], 1)]
    if xs:
        bounds = (min(xs), min(ys), max(xs), max(ys))
        center = {"lat": (bounds[1] + bounds[3]) / 2, "lon": (bounds[0] + bounds[2]) / 2}
        zoom = fit_zoom(bounds, MAP_SIZE)
    else:
        center, zoom = dict(CENTER), BASE_ZOOM
    fig.update_layout(
        map={"style": map_style(settings), "center": center, "zoom": zoom}, meta=proj.meta,
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="rgba(0,0,0,0)", showlegend=False,
        uirevision="wall", hoverlabel={"bgcolor": "#0b1f33", "bordercolor": "#38bdf8",
                                       "font": {"color": "#e6f1ff", "size": 14}})
    return fig


def _xs(geom: dict, i: int) -> list[float]:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    return [pt[i] for poly in polys for ring in poly for pt in ring]
