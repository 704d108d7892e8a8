"""/m — the grid worker's phone page (长安格): sign in, my grid and tasks, report, patrol.

The page is laid out here; assets/40-mobile.js does the work in the browser against
/api/v1 (reports, photos, positions, tasks) and keeps unsent reports in IndexedDB.
The file inputs (camera) are made by the JS: Dash has no <input type=file> component.
The map is a Plotly MapLibre figure with a local style; the pin is a fixed cross-hair
and the worker drags the map under it (relayoutData → callbacks/mobile.py → the JS). With GCJ-02 tiles the
figure is drawn in GCJ-02 (layout.meta.crs) and the JS converts the GPS fix in and the cross-hair back (GCGeo).
"""
from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import plotly.graph_objects as go
import shapely
from dash import dcc, html
from shapely.geometry import shape

from dashboard.i18n import t, texts_for
from dashboard.services.cases import active_categories
from dashboard.services.grids import grid_outlines
from layouts.map_style import local_style, projector

from .call_widget import call_widget
from .mobile_notices import notices_pane, notices_tab
from .mobile_visits import visits_pane, visits_tab


# the center's duty phone on the demo street when GC_CENTER_PHONE is not set (a made-up number, dials nowhere real)
DEMO_CENTER_PHONE = "029-00000000"


class MobileIds(StrEnum):
    ROOT = "m-root"
    MAP = "m-map"
    MAP_SINK = "m-map-sink"


def map_style(settings) -> dict[str, Any]:
    """Local sources only and no glyphs: zero outside requests unless an intranet tile URL is set."""
    return local_style("#e8edf2", settings.tile_url, attribution=settings.tile_attribution or "")


def location_map(session, settings) -> go.Figure:
    """Every grid outline as one light trace, my grid (filled by the JS) and my GPS dot."""
    proj = projector(settings)  # GCJ-02 tiles: outlines drawn where the tiles have the streets
    lons: list = []
    lats: list = []
    for b, _, _ in grid_outlines(session):
        rings = b["coordinates"] if b["type"] == "Polygon" else [r for p in b["coordinates"] for r in p]
        for ring in map(proj.ring, rings[:1] if b["type"] == "Polygon" else rings):
            lons += [p[0] for p in ring] + [None]
            lats += [p[1] for p in ring] + [None]
    center = {"lat": 34.27, "lon": 108.95}
    pts = [(la, lo) for la, lo in zip(lats, lons) if la is not None]
    if pts:
        center = {"lat": sum(p[0] for p in pts) / len(pts), "lon": sum(p[1] for p in pts) / len(pts)}
    fig = go.Figure([
        go.Scattermap(lon=lons, lat=lats, mode="lines", line={"width": 1, "color": "#7b8da0"}, hoverinfo="skip"),
        # my grid and my GPS dot start as a point at the centre, not empty: restyling a map trace that
        # was created empty makes MapLibre fail its style diff ("Map error")
        go.Scattermap(lon=[center["lon"]] * 2, lat=[center["lat"]] * 2, mode="lines", fill="toself",
                      fillcolor="rgba(11,61,107,0.12)", line={"width": 3, "color": "#0b3d6b"}, hoverinfo="skip"),
        go.Scattermap(lon=[center["lon"]], lat=[center["lat"]], mode="markers", marker={"size": 12, "color":
                      "#1a73e8", "opacity": 0.9}, hoverinfo="skip"),
    ])
    fig.update_layout(map={"style": map_style(settings), "center": center, "zoom": 16}, meta=proj.meta,
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False, dragmode="pan",
                      uirevision="m-map")
    return fig


def street_outline(session) -> list[list[list[float]]]:
    """The outer rings of the street's grids merged (WGS-84 [lon, lat], ~2 m simplified): the phone warns before
    sending a report from outside them, where the server would flag the case ``outside``."""
    polys = [shape(b) for b, _, _ in grid_outlines(session)]
    if not polys:
        return []
    merged = shapely.union_all([p.buffer(0) for p in polys]).simplify(0.00002)
    parts = getattr(merged, "geoms", [merged])
    return [[[round(x, 6), round(y, 6)] for x, y in p.exterior.coords] for p in parts if not p.is_empty]


def categories(session) -> list[dict[str, Any]]:
    """大类 → 小类, embedded in the page so the picker works without a network."""
    majors: dict[str, dict[str, Any]] = {}
    for c in active_categories(session):
        majors.setdefault(c.major_code, {"code": c.major_code, "name": c.major_name, "children": []})[
            "children"].append({"code": c.code, "name": c.name})
    return list(majors.values())


def demo_mode(settings) -> bool:
    return settings.demo and not settings.production


def _field(label: str, *children, cls: str = "") -> html.Label:
    return html.Label(className=f"m-field {cls}".strip(), children=[html.Span(label, className="m-label"), *children])


def layout(lang: str, query: dict, services):
    with services.db.read() as s:
        fig = location_map(s, services.settings)
        cats = categories(s)
        outline = services.memo.get(("m-street-outline",), 3600, lambda: street_outline(s))
    phone = services.settings.center_phone or (DEMO_CENTER_PHONE if demo_mode(services.settings) else "")
    other = "en" if lang == "zh-CN" else "zh-CN"
    demo = demo_mode(services.settings)
    T = lambda k: t(k, lang)
    return html.Div(id=MobileIds.ROOT, className="m-page", **{
        "data-lang": lang, "data-demo": "1" if demo else "0",
        "data-texts": json.dumps(texts_for(lang, "m."), ensure_ascii=False),
        "data-categories": json.dumps(cats, ensure_ascii=False),
        "data-street": json.dumps(outline, separators=(",", ":")), "data-center-phone": phone,
        # the task cards' small maps draw tiles from here only (none: the grid's outline on a plain ground)
        "data-tile-url": services.settings.tile_url or "", "data-tile-crs": services.settings.tile_crs}, children=[
        html.Header(className="m-header", children=[
            html.Div([html.B(T("m.title")), html.Span(T("m.subtitle"), className="m-sub")]),
            html.Span(id="m-net", className="m-net"),
            html.A(t("lang.switch", lang), href=f"/m?lang={other}", className="m-lang"),
        ]),
        html.Div(id="m-toast", className="m-toast", role="status"),
        # hidden until the page script has wired its buttons and asked who is signed in (a tap before that
        # did nothing, or submitted the form and reloaded the page)
        html.Section(id="m-signin", className="m-card", hidden=True, children=[
            html.H2(T("m.signin.title")),
            html.Div(id="m-demo", className="m-demo", hidden=not demo, children=[
                html.P(T("m.signin.demo"), className="m-hint"),
                html.Div(className="m-row", children=[
                    dcc.Input(id="m-demo-code", type="text", placeholder=T("m.signin.code"), list="m-demo-list",
                              autoComplete="off", debounce=False, className="m-input"),
                    html.Button(T("m.signin.enter"), id="m-demo-go", className="m-btn m-primary")]),
                html.Datalist(id="m-demo-list"),
            ]),
            html.Form(id="m-login", className="m-login", children=[
                dcc.Input(id="m-username", type="text", placeholder=T("m.signin.username"), className="m-input",
                          autoComplete="username"),
                dcc.Input(id="m-password", type="password", placeholder=T("m.signin.password"),
                          className="m-input", autoComplete="current-password"),
                html.Button(T("m.signin.submit"), id="m-login-go", type="submit", className="m-btn")]),
        ]),
        html.Main(id="m-main", hidden=True, children=[
            html.Div(className="m-who", children=[
                html.Span(id="m-me"), html.Span(id="m-grid", className="m-grid"),
                html.Button(T("m.signout"), id="m-signout", className="m-link"),
                html.A(t("gov.nav.entry", lang), href=f"/m/activity?lang={lang}", className="m-link")]),  # issue 10
            html.Nav(className="m-tabs", children=[
                html.Button(T("m.tab.tasks"), id="m-tab-tasks", className="m-tab active", **{"data-tab": "tasks"}),
                html.Button(T("m.tab.report"), id="m-tab-report", className="m-tab", **{"data-tab": "report"}),
                html.Button(T("m.tab.patrol"), id="m-tab-patrol", className="m-tab", **{"data-tab": "patrol"}),
                visits_tab(lang),  # 走访 (issue 31): layouts/mobile_visits.py, assets/42-visits.js
                notices_tab(lang)]),  # 网格通知 (issue 31): layouts/mobile_notices.py, assets/44-mobile-notices.js
            html.Section(id="m-pane-tasks", className="m-pane", children=[html.Ul(id="m-tasks", className="m-tasks")]),
            html.Section(id="m-pane-report", className="m-pane", hidden=True, children=[
                html.Div(className="m-row", children=[
                    _field(T("m.report.major"), html.Select(id="m-major", className="m-input")),
                    _field(T("m.report.minor"), html.Select(id="m-minor", className="m-input"))]),
                _field(T("m.report.description"), dcc.Textarea(id="m-desc", className="m-input", rows=3,
                                                               placeholder=T("m.report.description_ph"))),
                html.Span(T("m.report.location"), className="m-label"),
                html.Div(className="m-mapbox", children=[
                    dcc.Graph(id=MobileIds.MAP, figure=fig, className="m-map",
                              config={"displayModeBar": False, "scrollZoom": True}),
                    html.Div(className="m-crosshair")]),
                html.Div(className="m-row m-loc", children=[
                    html.Span(T("m.report.locating"), id="m-loc-text", className="m-loc-text"),
                    html.Button(T("m.report.relocate"), id="m-relocate", className="m-btn m-small")]),
                _field(T("m.report.photos"), html.Div(id="m-photo-slot", className="m-file", **{"data-input": "m-photo"}),
                       html.Div(id="m-photo-preview", className="m-thumbs")),
                _field(T("m.report.after"), html.Div(id="m-after-slot", className="m-file", **{"data-input": "m-after"}),
                       html.Div(id="m-after-preview", className="m-thumbs")),
                html.Div(id="m-outside", className="m-outside", hidden=True, role="alertdialog", children=[
                    html.B(T("m.report.outside.title")), html.P(id="m-outside-text"),
                    html.Div(className="m-row", children=[
                        html.Button(T("m.report.outside.back"), id="m-outside-back", className="m-btn"),
                        html.Button(T("m.report.outside.send"), id="m-outside-send", className="m-btn m-bad")])]),
                html.Div(className="m-row m-actions", children=[
                    html.Button(T("m.report.onsite"), id="m-onsite", className="m-btn m-ok"),
                    html.Button(T("m.report.escalate"), id="m-escalate", className="m-btn m-primary")]),
            ]),
            html.Section(id="m-pane-patrol", className="m-pane", hidden=True, children=[
                html.P(T("m.patrol.off"), id="m-patrol-state", className="m-patrol-state"),
                html.Button(T("m.patrol.start"), id="m-patrol-toggle", className="m-btn m-primary m-wide")]),
            visits_pane(lang),
            notices_pane(lang),
        ]),
        html.Div(id=MobileIds.MAP_SINK, hidden=True),
        call_widget(lang, role="worker"),  # 视频调度: rings for the signed-in worker (assets/71-call.js)
    ])
