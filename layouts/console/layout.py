"""/console — queues of escalated cases and open alerts, case/alert detail, routing and dispatch.

The server renders the frame once; assets/50-console.js starts GCLive, keeps the queues live
from "case" and "alert" events, and drives the detail panes through /api/v1 (actions,
recommendations, duplicates, merge, alert acknowledge/resolve/dispatch). The small map is
a Plotly MapLibre figure with a local style; callbacks/console.py moves its markers clientside.
"""
from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import place_name, t, texts_for
from dashboard.services.cases import active_categories
from dashboard.services.grids import grid_outlines, jurisdiction_choices
from layouts.map_style import local_style, projector

from ..access import own_community
from ..call_widget import call_widget
from ..coverage_panel import coverage_panel
from ..drilldown import drilldown_panel
from .ids import Console
from .notices import notices_panel

TEXT_PREFIXES = ("console.", "duty.", "case.state.", "priority.", "alert.state.", "alert.kind.", "alert.source.",
                 "case.source.", "call.button", "drill.title")
# trace order is shared with callbacks/console.py
TRACES = {"grids": 0, "workers": 1, "case": 2}


def map_style(settings) -> dict[str, Any]:
    """Local sources only, no glyphs: zero outside requests unless an intranet tile URL is set."""
    return local_style("#eef2f6", settings.tile_url, attribution=settings.tile_attribution or "")


def small_map(session, settings) -> go.Figure:
    """Grid outlines (one trace), the nearest workers and the case; markers are filled clientside."""
    proj = projector(settings)  # GCJ-02 tiles: outlines drawn where the tiles have the streets
    lons: list = []
    lats: list = []
    for b, _, _ in grid_outlines(session):  # the whole street: where a case is, whoever looks
        polys = [b["coordinates"]] if b["type"] == "Polygon" else b["coordinates"]
        for poly in polys:
            ring = proj.ring(poly[0])
            lons += [p[0] for p in ring] + [None]
            lats += [p[1] for p in ring] + [None]
    pts = [(la, lo) for la, lo in zip(lats, lons) if la is not None]
    center = ({"lat": sum(p[0] for p in pts) / len(pts), "lon": sum(p[1] for p in pts) / len(pts)} if pts
              else {"lat": 34.27, "lon": 108.95})
    fig = go.Figure([
        go.Scattermap(lon=lons, lat=lats, mode="lines", line={"width": 1, "color": "#8a9bb0"}, hoverinfo="skip"),
        go.Scattermap(lon=[], lat=[], mode="markers", marker={"size": 11, "color": "#16a34a"}, text=[],
                      hoverinfo="text"),
        go.Scattermap(lon=[], lat=[], mode="markers", marker={"size": 16, "color": "#d7263d"}, text=[],
                      hoverinfo="text"),
    ])
    fig.update_layout(map={"style": map_style(settings), "center": center, "zoom": 14}, meta=proj.meta,
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False, uirevision="console-map")
    return fig


def client_config(lang: str, services, categories: list[dict]) -> dict[str, Any]:
    """What 50-console.js needs, handed over once in a data attribute."""
    texts = {k: v for k, v in texts_for(lang).items() if k.startswith(TEXT_PREFIXES)}
    return {"lang": lang, "texts": texts, "categories": categories, "traces": TRACES}


def _pane(title_key: str, lang: str, body_id: str, extra: list | None = None) -> html.Section:
    return html.Section(className="console-pane", children=[
        html.H2([t(title_key, lang), html.Span(className="console-count", id=f"{body_id}-count")]),
        *(extra or []),
        html.Div(id=body_id, className="console-list"),
    ])


def layout(lang: str, query: dict, services):
    """The dispatcher's desk; ``?lang=en`` switches language, ``?case=<id>`` opens a case."""
    with services.db.read() as s:
        fig = small_map(s, services.settings)
        cats = [{"code": c.code, "name": place_name(f"{c.major_name}/{c.name}", lang) or c.name, "limit": c.time_limit_hours,
                 "clock": c.clock}
                for c in active_categories(s)]
        # for placing a case found outside the street in a grid by hand
        grids = [{"id": gid, "name": place_name(name, lang) or name, "community_id": cid}
                 for gid, name, cid in jurisdiction_choices(s, community_id=own_community(services))[1]]
        communities = jurisdiction_choices(s, community_id=own_community(services))[0]  # for the notices panel
    cfg = client_config(lang, services, cats)
    cfg["grids"] = grids
    cfg["open_case"] = query.get("case")
    other = "en" if lang == "zh-CN" else "zh-CN"
    header = html.Header(className="console-header", children=[
        html.H1([t("console.title", lang), html.Span(t("app.street", lang), className="console-sub")]),
        html.Div(className="console-head-right", children=[
            html.A(t("nav.wall", lang), href=f"/wall?lang={lang}", className="console-link"),
            html.A(t("patrol.title", lang), href=f"/patrol?lang={lang}", className="console-link"),
            html.A(t("lang.switch", lang), href=f"/console?lang={other}", className="console-link"),
            html.Button(t("console.sound.off", lang), id=Console.SOUND, className="console-sound", type="button",
                        **{"aria-pressed": "false"}),
            html.Span(t("console.status.connecting", lang), id=Console.STATUS,
                      className="console-status console-status-connecting"),
        ]),
    ])
    queues = html.Div(className="console-col console-queues", children=[
        _pane("console.queue.alerts", lang, Console.ALERTS),
        _pane("console.queue.cases", lang, Console.CASES),
        _pane("console.queue.tracking", lang, Console.TRACKING),
    ])
    detail = html.Div(className="console-col console-main", children=[
        html.Div(id=Console.MESSAGE, className="console-message", role="status"),
        html.Div(id=Console.DETAIL, className="console-detail", children=[
            html.P(t("console.detail.empty", lang), className="console-empty")]),
    ])
    side = html.Div(className="console-col console-right", children=[
        dcc.Graph(id=Console.MAP, figure=fig, className="console-map", style={"height": "300px"},
                  config={"displayModeBar": False, "scrollZoom": True, "responsive": True}),
        dcc.Store(id=Console.FOCUS), dcc.Store(id=Console.DRAWN),
        html.Div(id=Console.SIDE, className="console-side"),
        coverage_panel(lang, rows=5, theme="light"),  # foot vs mouse patrol coverage today
        notices_panel(lang, communities, street_wide=own_community(services) is None),  # 网格通知 (issue 31)
    ])
    return html.Div(id=Console.ROOT, className="console-root", lang=lang,
                    **{"data-config": json.dumps(cfg, ensure_ascii=False)},
                    children=[header, html.Div(className="console-body", children=[queues, detail, side]),
                              drilldown_panel(lang, scope="console", calls=True), call_widget(lang, role="console")])
