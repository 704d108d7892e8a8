"""/wall — the big-screen wall: a 1920×1080 design canvas scaled to the screen, live from GCLive.

The server renders everything once (map figure, charts, counters); assets/30-wall.js then
starts GCLive, fills the live layers from the snapshot and applies pushed events clientside.
"""
from __future__ import annotations

import json
from typing import Any

from dash import html


from dashboard.i18n import localize_json, place_name, t, texts_for
from dashboard.models import Role
from dashboard.api.wall import _encoded as encoded_stats
from dashboard.services.workers import active_worker_labels
from dashboard.services.wall_scope import GRID_ZOOM, is_wide, wall_place
from dashboard.services.wall_stats import grid_ids, recent_events, wall_stats
from dashboard.timeutil import clock_offset_s

from ..access import caller, own_community
from ..call_widget import call_widget
from ..coverage_panel import coverage_panel
from ..drilldown import drilldown_panel
from ..governance_panel import governance_panel
from . import panels
from .ids import Wall
from .satisfaction_panel import satisfaction_panel
from .map import BASE_ZOOM, TRACES, build_map, build_wide_map

DESIGN = (1920, 1080)
# a city's wall starts from figures up to 10 minutes old: their count takes 2 s on PostgreSQL, 20-40 s on SQLite under
# load (and the age runs from the start of the count), and the wall refetches them at once when its snapshot is newer
STATS_TTL_WIDE_S = 600
# the two charts are drawn by the page as SVG at these design sizes (assets/32-wall-panels.js)
CATEGORY_SIZE, HOURLY_SIZE = (428, 200), (428, 186)
CAPS = {"cases": 1000, "alerts": 200, "ticker": 60, "closed_keep_s": 1800}
TEXT_PREFIXES = ("wall.", "duty.", "case.state.", "priority.", "alert.", "app.")
# the grid shading's colour scale (31-wall-map.js paints with it; the legend shows it): value 0 … zmax per measure
SHADES = ["#0f2a44", "#1d5a8c", "#e0a43a", "#e8662f", "#d7263d"]
ZMAX = {"open": 3, "today": 4, "workers": 3}


def client_config(lang: str, query: dict, services, stats: dict[str, Any], grids: list[int]) -> dict[str, Any]:
    """Everything 30-wall.js needs, handed over once in a data attribute (no extra request)."""
    s = services.settings
    texts = {k: v for k, v in texts_for(lang).items() if k.startswith(TEXT_PREFIXES)}
    return {"clock_offset_ms": round(clock_offset_s() * 1000),  # --sim-hour: the clock shows the server's time
            "zmax": ZMAX, "shades": SHADES,
            "lang": lang, "kiosk": query.get("kiosk") == "1", "design": DESIGN, "traces": TRACES,
            "base_zoom": BASE_ZOOM, "gcj": s.tile_crs == "gcj02", "grids": grids, "caps": CAPS,
            "stats": localize_json(stats, lang),  # names in the page's language, as the stats API answers them
            "stats_min_interval_s": 10, "stats_debounce_s": 3, "stats_jitter_s": 1.5, "map_min_frame_ms": 250,
            "charts": {"category": CATEGORY_SIZE, "hourly": HOURLY_SIZE},
            "shade_min_interval_ms": 1000, "chart_min_interval_ms": 5000, "texts": texts,
            "measure": query.get("measure", "open") if query.get("measure") in ("open", "today", "workers") else "open",
            "timezone": s.timezone}


def header(lang: str, query: dict, place: str | None = None) -> html.Header:
    """The title bar; ``place``: what the wall is of (a street's, district's or city's name), the demo street's
    name when none is known."""
    other = "en" if lang == "zh-CN" else "zh-CN"
    measures = [html.Option(t(f"wall.measure.{m}", lang), value=m) for m in ("open", "today", "workers")]
    return html.Header(className="wall-header", children=[
        html.Div(className="wall-brand", children=[
            html.Span(className="wall-emblem"),
            html.H1([html.Span(place_name(place, lang) or t("app.street", lang), className="wall-street"), " ",
                     t("app.title", lang)]),
        ]),
        html.Div(className="wall-head-right", children=[
            html.Label(className="wall-control wall-measure-box", children=[
                t("wall.measure.label", lang), html.Select(measures, id=Wall.MEASURE, className="wall-select")]),
            html.Button(t("wall.sound.enable", lang), id=Wall.SOUND, className="wall-control wall-sound",
                        hidden=True),
            html.A(t("wall.lang.switch", lang), href=f"/wall?lang={other}", className="wall-control wall-lang"),
            html.Div(id=Wall.STATUS, className="wall-status wall-status-connecting", children=[
                html.Span(className="wall-light"), html.Span(t("wall.status.connecting", lang),
                                                             className="wall-status-text")]),
            html.Div(id=Wall.CLOCK, className="wall-clock", children="--:--:--"),
        ]),
    ])


def people(services, session, community_id: int | None) -> dict[str, list[str | None]]:
    """worker id → [code, masked name] for the worker markers' hover (built once per scope, kept for an hour)."""
    return services.memo.get(("wall-people", community_id), 3600,
                             lambda: active_worker_labels(session, community_id=community_id))


def shade_scale(lang: str, measure: str) -> html.Div:
    """The grid shading's colour scale: the measure it shows and its range (30-wall.js keeps it in step)."""
    stops = ", ".join(SHADES)
    return html.Div(className="wall-scale", children=[
        html.Span(t(f"wall.measure.{measure}", lang), className="wall-scale-title", **{"data-role": "title"}),
        html.Span("0", className="wall-scale-lo"),
        html.I(className="wall-scale-bar", style={"background": f"linear-gradient(90deg, {stops})"}),
        html.Span(f"{ZMAX[measure]}+", className="wall-scale-hi", **{"data-role": "hi"}),
    ])


def legend(lang: str, measure: str = "open") -> html.Div:
    items = [("duty", "patrolling", "#22c55e"), ("duty", "available", "#38bdf8"), ("duty", "dispatched", "#f59e0b"),
             ("duty", "on_scene", "#f97316"), ("duty", "offline", "#64748b")]
    rows = [html.Span([html.I(style={"background": color}), t(f"{ns}.{key}", lang)]) for ns, key, color in items]
    rows += [html.Span([html.I(className="wall-legend-case"), t("wall.legend.open_case", lang)]),
             html.Span([html.I(className="wall-legend-closed"), t("wall.legend.closed_case", lang)]),
             html.Span([html.I(className="wall-legend-alert"), t("wall.legend.alert", lang)]),
             html.Span([html.I(className="wall-legend-camera"), t("wall.legend.camera", lang)])]
    return html.Div([shade_scale(lang, measure), *rows], className="wall-legend")


def layout(lang: str, query: dict, services):
    """The wall page; ``?kiosk=1`` hides every control, ``?lang=en`` switches language."""
    own = own_community(services)  # a community's wall shows its own figures and ticker (the socket room too)
    with services.db.read() as s:
        wide, place = scope_of(services, s, own)
        # the figures every wall and the stats endpoint share (one build per few seconds). A city's take seconds to
        # count: its page starts from older ones (STATS_TTL_WIDE_S; warm() builds them) — a cold load does not wait
        # for a count of a million cases
        _, body = services.memo.get(("wall-stats", own), STATS_TTL_WIDE_S if wide else 3.0,
                                    lambda: encoded_stats(wall_stats(s, community_id=own, wide=wide)))
        stats = {**json.loads(body), "recent": recent_events(s, CAPS["ticker"] // 2, community_id=own)}
        if wide:  # a district or a city: communities until zoomed in, the grids of the view then (wall_scope)
            figure = services.memo.get(("wall-wide-map", lang, services.settings.tile_crs, own), 3600,
                                       lambda: json.loads(build_wide_map(s, services.settings, lang, own).to_json()))
            cfg = client_config(lang, query, services, stats, [])
            cfg["people"] = {}  # 20,000 workers' labels: each zoomed-in view brings its own
            cfg["base_zoom"] = figure["layout"]["map"]["zoom"]
            cfg["wide"] = {"level": place["level"], "grid_zoom": GRID_ZOOM}
        else:
            grids, figure = static_parts(services, s, lang)
            cfg = client_config(lang, query, services, stats, grids)
            cfg["people"] = people(services, s, own)
    p = caller(services)
    can_call = p is not None and p.role in (Role.DISPATCHER, Role.ADMIN)  # as the call handler allows
    # the browser plots the map itself once it knows the screen size: no relayout racing the first plot
    cfg["figure"] = figure
    stage = html.Div(id=Wall.STAGE, className="wall-stage", children=[
        header(lang, query, place["name"]),
        html.Div(className="wall-col wall-left", children=[
            panels.kpi_panel(stats, lang),
            panels.chart_panel("wall.panel.category", Wall.CATEGORY, lang, "wall-panel-category"),
            panels.ranking_panel(stats, lang),
        ]),
        html.Div(id=Wall.MAP_SLOT, className="wall-map-slot"),
        html.Div(className="wall-col wall-right", children=[
            panels.alert_panel(lang),
            panels.chart_panel("wall.panel.hourly", Wall.HOURLY, lang, "wall-panel-hourly"),
            # 网格+五治 (issue 10), or the residents' satisfaction panel option (?panel=satisfaction, issue 31)
            satisfaction_panel(lang, services) if query.get("panel") == "satisfaction"
            # a city's 五治 figures take seconds: its wall opens with them up to 5 minutes old (the panel refreshes)
            else governance_panel(lang, services, width=428, height=206, max_age_s=300 if wide else 15),
            panels.ticker_panel(lang),
        ]),
    ])
    map_layer = html.Div(className="wall-map-layer", **{"data-drilldown": "1"}, children=[
        html.Div(id=Wall.MAP, className="wall-map"),
        html.Div(id=Wall.OVERLAY, className="wall-overlay"),
        legend(lang, cfg["measure"]),
        coverage_panel(lang, rows=0, theme="wall"),  # mouse-patrol issue: foot vs mouse coverage today
        # a click on a grid opens its register (masked, wall scope); on a camera, its picture and whom to call
        drilldown_panel(lang, scope="wall", calls=can_call),
    ])
    classes = "wall-root" + (" wall-kiosk" if cfg["kiosk"] else "")
    return html.Div(id=Wall.ROOT, className=classes, lang=lang, **{"data-config": json.dumps(cfg, ensure_ascii=False)},
                    children=[stage, map_layer, call_widget(lang, role="console")])



def scope_of(services, session, own: int | None) -> tuple[bool, dict[str, Any]]:
    """Is the wall wide (a district or a city), and what is it of (kept until the grids change)."""
    return services.memo.get(("wall-scope", own), 3600, lambda: (is_wide(session, own), wall_place(session, own)))


def static_parts(services, session, lang: str) -> tuple[list[int], dict[str, Any]]:
    """The grid order and the static map figure (301 polygons through plotly's figure classes): the same for every
    wall, built once per language and kept until the grids change (Services.reload_grids clears the memo)."""
    memo, st = services.memo, services.settings
    grids = memo.get("wall-grid-ids", 3600, lambda: grid_ids(session))
    figure = memo.get(("wall-map", lang, st.tile_crs), 3600,
                      lambda: json.loads(build_map(session, st, lang).to_json()))
    return grids, figure


def warm(services, langs: tuple[str, ...] = ("zh-CN", "en")) -> None:
    """Build the wall's shared parts (static map, 五治 panel) before the first wall asks: a wall that opens
    right after a restart then loads as fast as the tenth."""
    from ..governance_panel import cached_panel

    with services.db.read() as s:
        wide, _ = scope_of(services, s, None)
        if wide:  # a city's figures take seconds to count: the first wall should not wait for them
            services.memo.get(("wall-stats", None), STATS_TTL_WIDE_S,
                              lambda: encoded_stats(wall_stats(s, community_id=None, wide=True)))
        for lang in langs:
            if wide:
                services.memo.get(("wall-wide-map", lang, services.settings.tile_crs, None), 3600,
                                  lambda: json.loads(build_wide_map(s, services.settings, lang).to_json()))
            else:
                static_parts(services, s, lang)
    for lang in langs:
        cached_panel(services, lang)
