"""The 五治 panel (communities compared on the five dimensions) and the standalone /governance page.

``governance_panel(lang, services)`` is a component factory the wall can place anywhere;
its figure refreshes when activities or device alerts arrive (assets/45-governance.js →
the refresh store → callbacks/governance.py), at most every ``REFRESH_MIN_S`` seconds.
The same data is served as JSON at /api/v1/governance/panel.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import t
from dashboard.services.governance import panel_data
from layouts.access import own_community

COLORS = {"party": "#ef4444", "law": "#3b82f6", "virtue": "#f59e0b", "self": "#22c55e", "smart": "#a78bfa"}
FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
REFRESH_MIN_S = 15


class GovIds(StrEnum):
    PANEL = "gov-panel"
    GRAPH = "gov-panel-graph"
    REFRESH = "gov-panel-refresh"
    LANG = "gov-panel-lang"
    PAGE = "gov-page"
    RADAR = "gov-radar"
    ALERTS = "gov-alerts"


TOP_N = 10  # more communities than this (a district, a city: 334): the chart shows the top ten by total score


def top_communities(communities: list[dict[str, Any]], n: int = TOP_N) -> list[dict[str, Any]]:
    """The ``n`` communities of the highest total score, best first; all of them, in their order, when ≤ ``n``."""
    if len(communities) <= n:
        return communities
    return sorted(communities, key=lambda c: -sum(v or 0 for v in c["scores"].values()))[:n]


def bars_figure(data: dict[str, Any], *, width: int = 428, height: int = 300, dark: bool = True) -> go.Figure:
    """Stacked horizontal bars: one row per community, one segment per dimension (each 0–100); the top ten of many."""
    comms = top_communities(data["communities"])[::-1]
    names = [c["name"].removesuffix("社区").removesuffix(" Community") or c["name"] for c in comms]
    small = height < 260
    # the name column fits the longest name: 4 Chinese characters, or "Huangchengxilu" in English
    left = max(64, 8 + max((sum(1.0 if ord(ch) > 0x2e80 else 0.6 for ch in n) for n in names), default=0)
               * (11 if small else 13))
    fig = go.Figure([go.Bar(y=names, x=[c["scores"][d["key"]] for c in comms], orientation="h",
                            name=d.get("short", d["name"]) if small else d["name"],
                            marker={"color": COLORS[d["key"]]}, hovertemplate="%{y} · " + d["name"] + ": %{x:.0f}"
                            "<extra></extra>") for d in data["dimensions"]])
    ink = "#b9cde3" if dark else "#334155"
    fig.update_layout(barmode="stack", width=width, height=height, paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font={"family": FONT, "color": ink, "size": 12 if small else 13},
                      margin={"l": round(left), "r": 6, "t": 22 if small else 26, "b": 16}, bargap=0.22,
                      legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal",
                              "font": {"size": 11 if small else 12}, "itemwidth": 30, "entrywidth": 0},
                      xaxis={"range": [0, 500], "gridcolor": "#173450" if dark else "#e2e8f0", "zeroline": False,
                             "tickfont": {"size": 10}},
                      yaxis={"gridcolor": "rgba(0,0,0,0)", "tickmode": "array", "tickvals": names, "ticktext": names,
                             "tickfont": {"size": 11 if small else 13}, "automargin": False})
    return fig


def radar_figure(data: dict[str, Any], *, height: int = 460) -> go.Figure:
    """One closed line per community over the five dimensions (for the desktop page)."""
    theta = [d["name"] for d in data["dimensions"]]
    fig = go.Figure([go.Scatterpolar(r=[c["scores"][d["key"]] for d in data["dimensions"]] + [
        c["scores"][data["dimensions"][0]["key"]]], theta=theta + theta[:1], name=c["name"], mode="lines",
        line={"width": 2}) for c in data["communities"]])
    # the axis names stand outside the circle: room for the longest ("Self-governance" in English)
    side = max(40, 8 + max((sum(1.0 if ord(ch) > 0x2e80 else 0.6 for ch in n) for n in theta), default=0) * 12)
    fig.update_layout(height=height, margin={"l": round(side), "r": round(side), "t": 30, "b": 30}, font={"family": FONT},
                      polar={"radialaxis": {"range": [0, 100]}}, legend={"font": {"size": 12}})
    return fig


def cached_panel(services, lang: str, max_age_s: float = REFRESH_MIN_S) -> dict[str, Any]:
    """The street's panel figures, kept as long as a wall waits between refreshes: every wall builds this
    panel on load and refreshes it after activity events, and computing it walks every grid (~0.5 s)."""
    from dashboard.timeutil import local_today

    def make():
        with services.db.read() as s:
            return panel_data(s, lang=lang)

    return services.memo.get(("gov-panel", lang, local_today().isoformat()), max_age_s, make)


def only_community(data: dict[str, Any], community_id: int | None) -> dict[str, Any]:
    """The panel's figures as a community-bound viewer may see them: its own row only, no street totals."""
    if community_id is None:
        return data
    return {**data, "communities": [c for c in data["communities"] if c["id"] == community_id],
            "values": {k: v for k, v in data["values"].items() if k == community_id}, "street": {},
            "street_scores": {}, "street_indicator_scores": {}, "street_expected": {}, "street_previous": None}


def governance_panel(lang: str, services, *, width: int = 428, height: int = 300, dark: bool = True,
                     class_name: str = "wall-panel gov-wall-panel", max_age_s: float = REFRESH_MIN_S) -> html.Section:
    """The panel as a component (a wall panel by default): title, stacked bars, refresh store; ``max_age_s``: how
    old the figures it starts with may be (a city's take seconds to compute; the panel refreshes itself)."""
    data = only_community(cached_panel(services, lang, max_age_s), own_community(services))
    return html.Section(id=GovIds.PANEL, className=class_name, **{"data-refresh-min-s": str(REFRESH_MIN_S)},
                        title=t("gov.panel.note", lang), children=[
        html.H2([t("gov.panel.title", lang)] + ([html.Small(t("gov.panel.top", lang, n=TOP_N,
                                                                total=len(data["communities"])),
                                                              className="gov-panel-top")]
                                                   if len(data["communities"]) > TOP_N else [])),
        dcc.Graph(id=GovIds.GRAPH, figure=bars_figure(data, width=width, height=height, dark=dark),
                  config={"staticPlot": True, "displayModeBar": False, "responsive": False}),
        dcc.Store(id=GovIds.REFRESH), dcc.Store(id=GovIds.LANG, data=lang),
    ])


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:,.2f}".rstrip("0").rstrip(".")


def _table(data: dict[str, Any], lang: str) -> html.Table:
    """Every indicator: the street's target, its raw figure and score, last month's, then each community's figure
    and score (the score is what the bars and radar average)."""
    comms = data["communities"]
    street = bool(data["street"])
    head = html.Tr([html.Th(t("gov.table.indicator", lang)), html.Th(t("gov.table.unit", lang))]
                   + ([html.Th(t("gov.table.target", lang)),
                       html.Th(t("gov.table.value_score", lang, name=t("gov.street", lang))),
                       html.Th(t("gov.table.previous", lang))] if street else [])
                   + [html.Th(t("gov.table.value_score", lang, name=c["name"])) for c in comms])
    prev = data.get("street_previous") or {}
    rows = []
    for ind in data["indicators"]:
        k = ind["key"]
        cells = [html.Td(ind["name"], title=ind["formula"], className=f"gov-dim-{ind['dimension']}"),
                 html.Td(ind["unit"])]
        if street:
            cells += [html.Td(_num(data["street_expected"].get(k)), className="gov-target"),
                      html.Td(f"{_num(data['street'].get(k))} / {_num(data['street_indicator_scores'].get(k))}"),
                      html.Td(f"{_num(prev.get('values', {}).get(k))} / "
                              f"{_num(prev.get('indicator_scores', {}).get(k))}" if prev else "—")]
        cells += [html.Td(f"{_num(data['values'][c['id']][k])} / {_num(c['indicator_scores'].get(k))}")
                  for c in comms]
        rows.append(html.Tr(cells))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="gov-table")


def layout(lang: str, query: dict, services):
    """/governance — the desktop overview: bars, radar, and every indicator per community."""
    with services.db.read() as s:
        data = only_community(panel_data(s, lang=lang, previous=True), own_community(services))
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(id=GovIds.PAGE, className="gov-page", lang=lang, children=[
        html.Header([html.H1(t("gov.page.title", lang)), html.Span(data["day"], className="gov-day"),
                     html.A(t("gov.nav.entry", lang), href=f"/m/activity?lang={lang}", className="gov-link"),
                     html.A(t("gov.lang.switch", lang), href=f"/governance?lang={other}", className="gov-link")]),
        html.Div(className="gov-row", children=[
            governance_panel(lang, services, width=560, height=360, dark=False, class_name="gov-card"),
            html.Section(className="gov-card", children=[
                html.H2(t("gov.radar.title", lang)),
                dcc.Graph(id=GovIds.RADAR, figure=radar_figure(data), config={"displayModeBar": False})]),
        ]),
        html.Section(className="gov-card", children=[html.H2(t("gov.table.title", lang)), _table(data, lang),
                                                     html.P(t("gov.panel.note", lang), className="gov-note")]),
    ])

