"""/briefing — the leader's daily situation (phone-first), with the day replay below it."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import t
from dashboard.services.grids import grid_outlines, jurisdiction_choices
from dashboard.services.exports import HOUR_KEYS, fmt_kpi
from dashboard.services.summary import km, pct, summary_paragraphs
from dashboard.timeutil import local_today
from layouts.access import own_community
from layouts.briefing_residents import satisfaction_card, visits_card
from layouts.map_style import local_style

# arrows: for these a rise is bad news (shown red)
RISE_IS_BAD = {"overdue", "avg_handling_hours", "avg_handling_work_hours"}
CARD_KEYS = ["reported", "onsite", "escalated", "closed", "overdue", "closure_rate", "on_time_rate", "onsite_rate",
             "avg_handling_hours", "avg_handling_work_hours"]
STATE_COLORS = ["#d7263d", "#e0a43a", "#e8662f", "#1d5a8c", "#7c3aed", "#3aa76d", "#9aa7b5"]
CONFIG = {"displayModeBar": False, "responsive": True}


class Ids(StrEnum):
    ROOT = "brief-root"
    LANG = "brief-lang"
    DAY = "brief-day"
    SCOPE = "brief-scope"
    CONTENT = "brief-content"
    PDF = "brief-export-pdf"
    XLSX = "brief-export-xlsx"
    CSV = "brief-export-csv"
    REPLAY_DATA = "brief-replay-data"
    REPLAY_MAP = "brief-replay-map"
    SLIDER = "brief-replay-slider"
    CLOCK = "brief-replay-clock"
    PLAY = "brief-replay-play"
    SPEED = "brief-replay-speed"
    JUMP = "brief-replay-jump"
    COUNTS = "brief-replay-counts"


def map_style() -> dict[str, Any]:
    """Local-only MapLibre style: a plain background, no sources to fetch, no glyphs."""
    return local_style("#eef3f8")


def _outlines(services) -> tuple[list, list, dict]:
    with services.db.read() as s:
        rows = grid_outlines(s)  # the street's outline behind the community figures
    lons: list = []
    lats: list = []
    for b, _, _ in rows:
        ring = b["coordinates"][0] if b.get("type") == "Polygon" else b["coordinates"][0][0]
        lons += [round(p[0], 6) for p in ring] + [None]
        lats += [round(p[1], 6) for p in ring] + [None]
    if rows:
        la = [r[1] for r in rows]
        lo = [r[2] for r in rows]
        center = {"lat": (min(la) + max(la)) / 2, "lon": (min(lo) + max(lo)) / 2}
    else:
        center = {"lat": 34.2685, "lon": 108.9545}
    return lons, lats, center


def base_map(services, *, zoom: float = 13.6, height: int = 320) -> go.Figure:
    """Grid outlines plus empty layers (trails, workers, cases) the page fills."""
    lons, lats, center = _outlines(services)
    fig = go.Figure([
        go.Scattermap(lon=lons, lat=lats, mode="lines", line={"width": 0.7, "color": "#8aa4bf"}, hoverinfo="skip"),
        go.Scattermap(lon=[], lat=[], mode="lines", line={"width": 2, "color": "#38bdf8"}, hoverinfo="skip"),
        go.Scattermap(lon=[], lat=[], mode="markers", marker={"size": 8, "color": "#0b3d6b"}, text=[],
                      hovertemplate="%{text}<extra></extra>"),
        go.Scattermap(lon=[], lat=[], mode="markers", marker={"size": 11, "color": []}, text=[],
                      hovertemplate="%{text}<extra></extra>"),
    ])
    fig.update_layout(map={"style": map_style(), "center": center, "zoom": zoom}, height=height,
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False, uirevision="brief")
    return fig


def layout(lang: str, query: dict, services):
    """The page shell; the content and the replay data come from callbacks/briefing.py."""
    own = own_community(services)
    with services.db.read() as s:
        comms, _grids = jurisdiction_choices(s, community_id=own)
    scope_opts = ([{"label": t("brief.scope.street", lang), "value": "street"}] if own is None else []) + [
        {"label": n, "value": str(i)} for i, n in comms]
    day = query.get("day") or local_today().isoformat()
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(id=Ids.ROOT, className="gcb", children=[
        dcc.Store(id=Ids.LANG, data=lang),
        html.Header(className="gcb-head", children=[
            html.H1(t("brief.title", lang)),
            html.A(t("lang.switch", lang), href=f"/briefing?lang={other}", className="gcb-lang"),
            html.Div(className="gcb-pickers", children=[
                html.Label([t("brief.day", lang), dcc.Input(id=Ids.DAY, type="date", value=day, debounce=True,
                                                            className="gcb-day")]),
                html.Label([t("brief.scope", lang), dcc.Dropdown(id=Ids.SCOPE, options=scope_opts,
                                                                 value=str(own) if own else (query.get("community") or "street"),
                                                                 clearable=False, searchable=False,
                                                                 className="gcb-scope")]),
            ]),
            html.Div(className="gcb-exports", children=[
                html.A(t("brief.export.pdf", lang), id=Ids.PDF, href="#", className="gcb-btn"),
                html.A(t("brief.export.xlsx", lang), id=Ids.XLSX, href="#", className="gcb-btn"),
                html.A(t("brief.export.csv", lang), id=Ids.CSV, href="#", className="gcb-btn"),
            ]),
        ]),
        html.Div(id=Ids.CONTENT, className="gcb-content"),
        html.Section(className="gcb-card gcb-replay", children=[
            html.H2(t("brief.replay", lang)),
            dcc.Store(id=Ids.REPLAY_DATA),
            html.Div(className="gcb-replay-bar", children=[
                html.Button(t("brief.replay.play", lang), id=Ids.PLAY, n_clicks=0, className="gcb-btn",
                            **{"data-play": t("brief.replay.play", lang), "data-pause": t("brief.replay.pause", lang)}),
                html.Span("00:00", id=Ids.CLOCK, className="gcb-clock"),
                html.Label([t("brief.replay.speed", lang), dcc.Dropdown(
                    id=Ids.SPEED, options=[{"label": t("brief.replay.speed_n", lang, n=v), "value": v}
                                           for v in (1, 5, 15, 30, 60)], value=15,
                    clearable=False, searchable=False, className="gcb-speed")]),
                html.Span(id=Ids.COUNTS, className="gcb-replay-counts",
                          **{"data-cases-label": t("brief.replay.cases", lang),
                             "data-workers-label": t("brief.replay.workers", lang)}),
            ]),
            dcc.Slider(id=Ids.SLIDER, min=0, max=1439, step=1, value=0, updatemode="drag",
                       marks={m * 60: f"{m:02d}" for m in range(0, 24, 3)}, tooltip=None),
            dcc.Dropdown(id=Ids.JUMP, options=[], placeholder=t("brief.replay.jump", lang), className="gcb-jump"),
            dcc.Graph(id=Ids.REPLAY_MAP, figure=base_map(services, height=360), config=CONFIG,
                      className="gcb-map", style={"height": "360px"}),
            replay_legend(lang),
        ]),
    ])


def replay_legend(lang: str) -> html.Div:
    """What the replay map's marks mean: a case's colour is its state at the slider's minute (the colours of
    assets/60-briefing.js), a dark dot a worker, the light line the last half hour of the worker's track."""
    from dashboard.i18n import label

    states = ["reported", "registered", "dispatched", "handling", "feedback", "closed"]
    return html.Div(className="gcb-legend", id="brief-replay-legend", children=[
        *[html.Span(label("case.state", s, lang), style={"--c": STATE_COLORS[i]}) for i, s in enumerate(states)],
        html.Span(t("brief.replay.workers", lang), style={"--c": "#0b3d6b"}),
        html.Span(t("brief.replay.trail", lang), className="gcb-legend-trail", style={"--c": "#38bdf8"})])


def _arrow(key: str, delta: Any, lang: str, compared: bool = True) -> html.Span:
    if not compared:  # the compared day has no data (before the system ran, or it was down): no arrow
        return html.Span(t("brief.sum.no_compare", lang), className="gcb-flat gcb-nocmp")
    if delta is None:
        return html.Span("—", className="gcb-flat")
    if abs(delta) < 1e-9:
        return html.Span("→ 0", className="gcb-flat")
    up = delta > 0
    bad = up == (key in RISE_IS_BAD) if key not in ("reported", "escalated") else None
    text = f"{'▲' if up else '▼'} " + (f"{abs(delta) * 100:.1f}pp" if key.endswith("_rate") else
                                        f"{abs(delta):.1f}" if key.startswith("avg") else f"{abs(int(delta))}")
    return html.Span(text, className="gcb-up" if bad is None and up else "gcb-bad" if bad else "gcb-good"
                     if bad is False else "gcb-down")


def kpi_cards(b: dict, lang: str) -> html.Div:
    rows = {k["key"]: k for k in b["kpis"]}
    cmp = b.get("compare", {"yesterday": True, "last_week": True})
    return html.Div(className="gcb-kpis", children=[html.Div(
        className="gcb-kpi", **{"data-key": key}, children=[
            html.Div(t(f"brief.kpi.{key}", lang), className="gcb-kpi-label"),
            html.Div(t("brief.no_closed", lang) if key in HOUR_KEYS and not b["counts"].get("handled")
                     else fmt_kpi(key, rows[key]["value"]), className="gcb-kpi-value"),
            html.Div([html.Span(t("brief.vs_day", lang)),
                      _arrow(key, rows[key]["delta_day"], lang, cmp["yesterday"])], className="gcb-kpi-d"),
            html.Div([html.Span(t("brief.vs_week", lang)),
                      _arrow(key, rows[key]["delta_week"], lang, cmp["last_week"])],
                     className="gcb-kpi-d")]) for key in CARD_KEYS])


def _fig(height: int = 240) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(height=height, margin={"l": 36, "r": 8, "t": 8, "b": 30}, showlegend=True,
                      legend={"orientation": "h", "y": -0.2}, paper_bgcolor="white", plot_bgcolor="white",
                      font={"family": "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", "size": 12})
    return fig


def charts(b: dict, lang: str) -> list:
    cat = _fig()
    cat.add_bar(y=[c["major_name"] for c in b["by_category"]][::-1], x=[c["reported"] for c in b["by_category"]][::-1],
                orientation="h", marker_color="#1d5a8c", name=t("brief.kpi.reported", lang))
    hourly = _fig()
    for key, color in (("reported", "#1d5a8c"), ("closed", "#3aa76d"), ("reported_yesterday", "#9aa7b5")):
        if b["hourly"][key] is None:  # yesterday without data: no line to compare with
            continue
        hourly.add_scatter(x=list(range(24)), y=b["hourly"][key], mode="lines+markers", line={"color": color},
                           name=t(f"brief.hourly.{key}", lang))
    stages = ["reported", "escalated", "dispatched", "feedback", "closed"]
    funnel = _fig()
    funnel.add_trace(go.Funnel(y=[t(f"brief.funnel.{s}", lang) for s in stages],
                               x=[b["funnel"][s] for s in stages], marker={"color": "#0b3d6b"}))
    funnel.update_layout(showlegend=False)
    comm = _fig()
    comm.add_bar(y=[c["name"] for c in b["communities"]][::-1], orientation="h",
                 x=[None if c["on_time_rate"] is None else round(c["on_time_rate"] * 100, 1)
                    for c in b["communities"]][::-1],
                 marker_color="#3aa76d", name=t("brief.kpi.on_time_rate", lang) + " %")
    comm.update_layout(xaxis={"range": [0, 100], "ticksuffix": "%"}, margin={"l": 110, "r": 8, "t": 8, "b": 30})
    def g(figure):
        return dcc.Graph(figure=figure, config=CONFIG, style={"height": "240px"})

    return [_card("brief.by_category", lang, g(cat)),
            _card("brief.hourly", lang, g(hourly)),
            _card("brief.funnel", lang, g(funnel)),
            _card("brief.communities", lang, g(comm))]


def _card(title_key: str, lang: str, *children, cls: str = "") -> html.Section:
    return html.Section(className=f"gcb-card {cls}", children=[html.H2(t(title_key, lang)), *children])


def _table(head: list[str], rows: list[list[Any]], cls: str = "") -> html.Table:
    return html.Table(className=f"gcb-table {cls}", children=[
        html.Thead(html.Tr([html.Th(h) for h in head])),
        html.Tbody([html.Tr([html.Td("" if c is None else c) for c in r]) for r in rows])])


def hot_map(b: dict, services, lang: str) -> dcc.Graph:
    fig = base_map(services, zoom=13.2, height=260)
    hg = b["hot_grids"]
    fig.data[3].update(lat=[g["lat"] for g in hg], lon=[g["lon"] for g in hg],
                       text=[f"{g['name']} {g['reported']}" for g in hg],
                       marker={"size": [10 + 3 * min(g["reported"], 10) for g in hg], "color": "#d7263d",
                               "opacity": 0.8})
    return dcc.Graph(figure=fig, config=CONFIG, className="gcb-hotmap", style={"height": "260px"})


def render_content(b: dict, lang: str, services) -> list:
    """Everything above the replay, from the briefing figures."""
    cov, w, a = b["coverage"], b["workers"], b["alerts"]
    none = html.P(t("brief.none", lang), className="gcb-none")
    return [
        kpi_cards(b, lang),
        _card("brief.summary", lang, *[html.P(p) for p in summary_paragraphs(b, lang)], cls="gcb-summary"),
        html.Div(className="gcb-grid gcb-charts", children=charts(b, lang)),
        _card("brief.hot_grids", lang, hot_map(b, services, lang), _table(
            [t("brief.grid", lang), t("brief.grid_name", lang), t("brief.count", lang)],
            [[g["code"], g["name"], g["reported"]] for g in b["hot_grids"]]) if b["hot_grids"] else none),
        _card("brief.overdue", lang, _table(
            [t("brief.case_code", lang), t("brief.category", lang), t("brief.grid", lang),
             t("brief.overdue_hours", lang), t("brief.worker", lang)],
            [[o["code"], o["category"], o["grid_name"], o["overdue_hours"], o["worker"] or o["department"]]
             for o in b["overdue"][:20]], cls="gcb-overdue") if b["overdue"] else none),
        html.Div(className="gcb-grid", children=[
            _card("brief.workers", lang, _table(
                [t("brief.workers.active", lang), t("brief.workers.fixes", lang), t("brief.workers.reports", lang),
                 t("brief.workers.patrols", lang), t("brief.workers.km", lang)],
                [[f"{w['active']}/{w['workers']}", w["fixes"], w["reports"], w["foot_patrols"], km(w["patrol_km"])]]),
                _table([t("brief.worker", lang), t("brief.workers.reports", lang), t("brief.workers.km", lang)],
                       [[x["name"], x["reports"], km(x.get("km"))] for x in w["top"]], cls="gcb-top")
                if w["top"] else none,
                _table([t("brief.grid", lang), t("brief.grid_name", lang), t("brief.workers.km", lang)],
                       [[g["code"], g["name"], km(g["km"])] for g in w.get("km_by_grid", [])], cls="gcb-km-grids")
                if w.get("km_by_grid") else none),
            _card("brief.coverage", lang, _table(
                [t("brief.coverage.foot", lang), t("brief.coverage.mouse", lang), t("brief.coverage.any", lang)],
                [[f"{cov['foot']}/{cov['grids']}", f"{cov['mouse']}/{cov['grids']}",
                  f"{cov['any']}/{cov['grids']} ({pct(cov['any_rate'])})"]]),
                html.P([t("brief.coverage.unvisited", lang), f" ({cov['unvisited_count']}): ",
                        "、".join(u["name"] for u in cov["unvisited"][:30])], className="gcb-unvisited")),
        ]),
        html.Div(className="gcb-grid", children=[satisfaction_card(b, lang), visits_card(b, lang)]),
        _card("brief.alerts", lang, _table(
            [t("brief.time", lang), t("brief.alert.severity", lang), t("brief.alert.title", lang)],
            [[x["created_at"][11:16], t(f"brief.sev.{x['severity']}", lang), x["title"]] for x in a["notable"]]) if a["notable"] else none),
    ]
