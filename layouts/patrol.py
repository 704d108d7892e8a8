"""/patrol — mouse patrol (鼠标巡逻): tour builder and runner, map, camera tiles, stop log, coverage.

The runner is clientside (assets/70-patrol.js) and talks to /api/v1/tours; this module
only lays the page out. ``coverage_table`` is reusable by the console and the wall.
"""
from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import t, texts_for
from dashboard.services.grids import grids_geojson, jurisdiction_choices, open_cases_by_grid
from dashboard.services.tours import GENERATORS, coverage
from layouts.access import own_community
from layouts.map_style import local_style, projector

from .call_widget import call_widget
from .coverage_panel import coverage_panel
from .drilldown import drill_map_wrapper, drilldown_panel

LIMITS = (3, 5, 8, 10, 15, 20, 30, 50)
DWELLS = (5, 10, 15, 20, 30, 60, 120)


class PatrolIds(StrEnum):
    ROOT = "patrol-root"
    MAP = "patrol-map"
    KIND = "patrol-gen-kind"
    COMMUNITY = "patrol-gen-community"
    LIMIT = "patrol-gen-limit"
    DWELL = "patrol-gen-dwell"
    GENERATE = "patrol-generate"
    MANUAL_GRIDS = "patrol-manual-grids"
    MANUAL_NAME = "patrol-manual-name"
    SAVE = "patrol-save"
    TOURS = "patrol-tours"
    START = "patrol-start"
    DELETE = "patrol-delete"
    STOP_TITLE = "patrol-stop-title"
    STOP_INFO = "patrol-stop-info"
    COUNTDOWN = "patrol-countdown"
    OK = "patrol-ok"
    ISSUE = "patrol-issue"
    NOTE = "patrol-note"
    PAUSE = "patrol-pause"
    FINISH = "patrol-finish"
    BANNER = "patrol-banner"
    MESSAGE = "patrol-message"
    CAMERAS = "patrol-cameras"
    LOG = "patrol-log"
    COVERAGE = "patrol-coverage"
    COVERAGE_COMMUNITY = "patrol-coverage-community"
    COVERAGE_REFRESH = "patrol-coverage-refresh"


def map_style(settings) -> dict[str, Any]:
    """Local sources only, no glyphs: zero outside requests unless an intranet tile URL is configured (in either
    datum: the figure is drawn in the tiles' one, ``Projector``)."""
    return local_style("#0d1b26", settings.tile_url, attribution=settings.tile_attribution or "")


def patrol_map(session, settings, community_id: int | None = None) -> go.Figure:
    """Grids shaded by open cases (trace 0) and the current stop's outline (trace 1, set clientside); a community's
    operator sees its own grids."""
    proj = projector(settings)  # GCJ-02 tiles: the grids drawn where the tiles have the streets
    gj = grids_geojson(session, community_id)
    for f in gj["features"]:
        f["geometry"] = proj.geometry(f["geometry"])
    open_by_grid = open_cases_by_grid(session, community_id=community_id)
    ids = [f["id"] for f in gj["features"]]
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=gj, locations=ids, featureidkey="id", z=[open_by_grid.get(i, 0) for i in ids],
        text=[f["properties"]["name"] for f in gj["features"]], hovertemplate="%{text}<br>%{z}<extra></extra>",
        colorscale=[[0, "#16384d"], [0.5, "#c98a1a"], [1, "#d9342b"]], zmin=0, zmax=max(3, max(open_by_grid.values(),
                                                                                               default=0)),
        marker={"line": {"color": "#3a7ca5", "width": 0.6}, "opacity": 0.6}, showscale=False))
    fig.add_trace(go.Scattermap(lat=[], lon=[], mode="lines", line={"color": "#00e5ff", "width": 4},
                                hoverinfo="skip", name="stop"))
    fig.add_trace(go.Scattermap(lat=[], lon=[], mode="markers", marker={"size": 11, "color": "#ffd400"},
                                hoverinfo="skip", name="cameras"))
    lats = [g["geometry"]["coordinates"][0][0][1] for g in gj["features"]] or [34.27]
    lons = [g["geometry"]["coordinates"][0][0][0] for g in gj["features"]] or [108.95]
    fig.update_layout(map={"style": map_style(settings), "zoom": 14.3,
                           "center": {"lat": sum(lats) / len(lats), "lon": sum(lons) / len(lons)}},
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="#0d1b26", showlegend=False,
                      uirevision="patrol", meta=proj.meta)
    return fig


def coverage_table(rows: list[dict[str, Any]], lang: str, *, table_id: str | None = None,
                   limit: int | None = None) -> html.Div:
    """Per-grid daily coverage: foot and mouse patrols side by side (grids not covered first)."""
    rows = sorted(rows, key=lambda r: (r["foot"] + r["mouse"] > 0, r["code"]))
    n, foot = len(rows), sum(1 for r in rows if r["foot"])
    mouse, none = sum(1 for r in rows if r["mouse"]), sum(1 for r in rows if not r["foot"] and not r["mouse"])
    shown = rows if limit is None else rows[:limit]
    return html.Div(id=table_id, className="patrol-coverage", children=[
        html.P(t("patrol.coverage.summary", lang, n=n, foot=foot, mouse=mouse, none=none),
               className="patrol-coverage-summary"),
        html.Table([
            html.Thead(html.Tr([html.Th(t("patrol.log.grid", lang)), html.Th(t("patrol.coverage.foot", lang)),
                                html.Th(t("patrol.coverage.mouse", lang))])),
            html.Tbody([html.Tr([html.Td(r["name"]), html.Td(r["foot"], className="num"),
                                 html.Td(r["mouse"], className="num")],
                                className="none" if not r["foot"] and not r["mouse"] else None,
                                **{"data-grid-id": str(r["grid_id"])}) for r in shown]),
        ]),
    ])


def _select(id_: str, options: list[tuple[Any, str]], value: str | None = None) -> html.Select:
    return html.Select(id=id_, children=[html.Option(label, value=str(v), selected=str(v) == value)
                                         for v, label in options])


def layout(lang: str, query: dict, services):
    own = own_community(services)  # a community's operator patrols its own grids
    with services.db.read() as s:
        communities, grids = jurisdiction_choices(s, community_id=own)
        fig = patrol_map(s, services.settings, own)
        cov = coverage(s, community_id=own)
    other = "en" if lang == "zh-CN" else "zh-CN"
    P = PatrolIds
    btn = lambda id_, key, cls="": html.Button(t(key, lang), id=id_, className=f"patrol-btn {cls}".strip(),
                                               n_clicks=0)
    return html.Div(id=P.ROOT, className="gc-patrol", **{
        "data-lang": lang, "data-texts": json.dumps(texts_for(lang, "patrol."), ensure_ascii=False),
        "data-snapshot-every": f"{services.settings.snapshot_refresh_s:g}",
        "data-stream-max": f"{services.settings.camera_stream_max_s:g}"}, children=[
        html.Header(className="patrol-header", children=[
            html.H1(t("patrol.title", lang)),
            html.Nav([html.A(t("patrol.back", lang), href=f"/?lang={lang}"),
                      html.A(t("nav.console", lang), href=f"/console?lang={lang}"),
                      html.A(t("nav.wall", lang), href=f"/wall?lang={lang}"),
                      html.A(t("lang.switch", lang), href=f"/patrol?lang={other}")]),
        ]),
        html.Section(className="patrol-builder", children=[
            html.Div(className="patrol-row", children=[
                html.Label(t("patrol.generate", lang)),
                _select(P.KIND, [(k, t(f"patrol.gen.{k}", lang)) for k in GENERATORS]),
                html.Label(t("patrol.community", lang)),
                _select(P.COMMUNITY, [(c.id, c.name) for c in communities]),
                html.Label(t("patrol.limit", lang)),
                _select(P.LIMIT, [(n, str(n)) for n in LIMITS], value="5"),
                html.Label(t("patrol.dwell", lang)),
                _select(P.DWELL, [(n, str(n)) for n in DWELLS], value="20"),
                btn(P.GENERATE, "patrol.generate", "primary"),
            ]),
            html.Details(className="patrol-manual", children=[
                html.Summary(t("patrol.manual", lang)),
                html.Label(t("patrol.manual.grids", lang)),
                html.Select(id=P.MANUAL_GRIDS, multiple=True, size=6,
                            children=[html.Option(g.name, value=str(g.id)) for g in grids]),
                dcc.Input(id=P.MANUAL_NAME, type="text", placeholder=t("patrol.manual.name", lang)),
                btn(P.SAVE, "patrol.save"),
            ]),
            html.Div(className="patrol-row", children=[
                html.Label(t("patrol.tour", lang)),
                html.Div(id=P.TOURS, className="patrol-tours"),  # a <select> the runner script owns
                btn(P.START, "patrol.start", "primary"),
                btn(P.DELETE, "patrol.delete"),
                html.Span(id=P.MESSAGE, className="patrol-message"),
            ]),
        ]),
        html.Div(id=P.BANNER, className="patrol-banner", hidden=True),
        html.Main(className="patrol-main", children=[
            drill_map_wrapper(dcc.Graph(id=P.MAP, figure=fig, config={"displayModeBar": False, "scrollZoom": True},
                                        style={"height": "100%"}), className="patrol-mapbox"),
            # the stop's cameras beside the map, not under it: large and in view at 1080p without scrolling
            html.Section(id=P.CAMERAS, className="patrol-cameras"),
            html.Aside(className="patrol-stop", children=[
                html.H2(t("patrol.idle", lang), id=P.STOP_TITLE),
                html.Div(id=P.COUNTDOWN, className="patrol-countdown"),
                html.Div(id=P.STOP_INFO, className="patrol-stop-info"),
                dcc.Textarea(id=P.NOTE, placeholder=t("patrol.note", lang), className="patrol-note"),
                html.Div(className="patrol-actions", children=[
                    btn(P.OK, "patrol.ok", "ok"), btn(P.ISSUE, "patrol.issue", "issue"),
                    btn(P.PAUSE, "patrol.pause"), btn(P.FINISH, "patrol.finish"),
                ]),
            ]),
        ]),
        drilldown_panel(lang, scope="console", calls=True),
        call_widget(lang, role="console"),
        html.Div(className="patrol-bottom", children=[
            html.Section(className="patrol-logbox", children=[
                html.H2(t("patrol.log", lang)),
                html.Div(id=P.LOG, className="patrol-log"),  # filled by the runner script
            ]),
            html.Section(className="patrol-coveragebox", children=[
                html.H2(t("patrol.coverage", lang)),
                coverage_panel(lang, rows=0, title=False),
                html.Div(className="patrol-row", children=[
                    dcc.Dropdown(id=P.COVERAGE_COMMUNITY, options=[{"label": c.name, "value": c.id}
                                                                   for c in communities],
                                 placeholder=t("patrol.coverage.all", lang), clearable=True,
                                 className="patrol-dropdown"),
                    btn(P.COVERAGE_REFRESH, "patrol.coverage.refresh"),
                ]),
                html.Div(id=f"{P.COVERAGE}-box", children=coverage_table(cov, lang, table_id=P.COVERAGE, limit=60)),
            ]),
        ]),
    ])
