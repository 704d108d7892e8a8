"""The wall's side panels: KPI tiles, charts, ranking, alerts and the ticker (first render on the server)."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.i18n import t

from .ids import Wall

KPIS = ["reported", "onsite", "escalated", "dispatched", "in_progress", "closed", "overdue", "on_duty", "patrolling"]
RATES = ["self_rate", "ontime_rate"]
FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
CHART_CONFIG = {"staticPlot": True, "displayModeBar": False, "responsive": False}


def _fmt_rate(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def panel(title_key: str, lang: str, *children, class_name: str = "") -> html.Section:
    return html.Section(className=f"wall-panel {class_name}".strip(),
                        children=[html.H2(t(title_key, lang)), *children])


def kpi_panel(stats: dict[str, Any], lang: str) -> html.Section:
    c = stats["counters"]
    tiles = [html.Div(className=f"wall-kpi wall-kpi-{k}", children=[
        html.Span(f"{c[k]:,}", id=f"{Wall.KPI}-{k}", className="wall-kpi-value"),
        html.Span(t(f"wall.kpi.{k}", lang), className="wall-kpi-label")]) for k in KPIS]
    rates = [html.Div(className="wall-rate", children=[
        html.Span(t(f"wall.kpi.{k}", lang), className="wall-kpi-label"),
        html.Span(_fmt_rate(c[k]), id=f"{Wall.KPI}-{k}", className="wall-rate-value"),
        html.Div(className="wall-rate-bar", children=html.Div(
            id=f"{Wall.KPI}-{k}-bar", className="wall-rate-fill", style={"width": _fmt_rate(c[k] or 0)}))])
        for k in RATES]
    return panel("wall.panel.kpi", lang, html.Div(tiles, className="wall-kpis"), html.Div(rates, className="wall-rates"),
                 class_name="wall-panel-kpi")


def _chart_layout(height: int) -> dict[str, Any]:
    return dict(height=height, margin={"l": 44, "r": 12, "t": 8, "b": 30}, paper_bgcolor="rgba(0,0,0,0)",
                plot_bgcolor="rgba(0,0,0,0)", font={"family": FONT, "color": "#b9cde3", "size": 14},
                xaxis={"gridcolor": "#173450", "zeroline": False}, yaxis={"gridcolor": "#173450", "zeroline": False},
                showlegend=False)


def axis_top(v: float) -> int:
    """The count axis ends at 5, 10, 20, 50, 100, 200, …: it moves in steps, not with every case (a wall watched
    all day should not twitch, and Plotly caches every tick label it measured at each position).
    The same rule is ``axisTop`` in assets/32-wall-panels.js."""
    top = 5
    while top < v:
        top = top * 2 if str(top)[0] in "15" else top * 5 // 2
    return top


def category_figure(stats: dict[str, Any], lang: str, width: int, height: int) -> go.Figure:
    rows = stats["by_category"][:8][::-1]
    fig = go.Figure(go.Bar(x=[r["count"] for r in rows], y=[r["name"] for r in rows], orientation="h",
                           marker={"color": "#38bdf8"}, text=[r["count"] for r in rows], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(**_chart_layout(height), width=width)
    fig.update_layout(margin={"l": 110, "r": 36, "t": 4, "b": 24},  # counts from 0; no made-up rows on an empty day
                      xaxis={"range": [0, axis_top(max([r["count"] for r in rows], default=0))]},
                      yaxis={"type": "category"})
    return fig


def hourly_figure(stats: dict[str, Any], lang: str, width: int, height: int) -> go.Figure:
    hours = list(range(24))
    fig = go.Figure([
        go.Scatter(x=hours, y=stats["hourly"]["yesterday"], mode="lines", name=t("wall.series.yesterday", lang),
                   line={"color": "#64748b", "width": 2, "dash": "dot"}),
        go.Scatter(x=hours, y=stats["hourly"]["today"], mode="lines+markers", name=t("wall.series.today", lang),
                   line={"color": "#fbbf24", "width": 3}, marker={"size": 5}),
    ])
    fig.update_layout(**_chart_layout(height), width=width)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.12},
                      xaxis={"dtick": 3, "range": [-0.5, 23.5]},
                      yaxis={"range": [0, axis_top(max([*stats["hourly"]["today"], *stats["hourly"]["yesterday"]]))]})
    return fig


def ranking_rows(stats: dict[str, Any]) -> list:
    return [html.Tr([html.Td(str(i + 1), className="wall-rank-n"), html.Td(r["name"]), html.Td(r["reported"]),
                     html.Td(r["open"]), html.Td(r["closed"])]) for i, r in enumerate(stats["ranking"][:9])]


def ranking_panel(stats: dict[str, Any], lang: str) -> html.Section:
    head = html.Tr([html.Th("#"), *[html.Th(t(f"wall.rank.{k}", lang)) for k in ("community", "reported", "open",
                                                                                 "closed")]])
    return panel("wall.panel.ranking", lang, html.Table(className="wall-rank", children=[
        html.Thead(head), html.Tbody(ranking_rows(stats), id=Wall.RANKING)]), class_name="wall-panel-ranking")


def chart_panel(title_key: str, graph_id: str, fig: go.Figure, lang: str, class_name: str) -> html.Section:
    return panel(title_key, lang, dcc.Graph(id=graph_id, figure=fig, config=CHART_CONFIG, className="wall-chart"),
                 class_name=class_name)


def alert_panel(lang: str) -> html.Section:
    return panel("wall.panel.alerts", lang, html.Div(
        id=Wall.ALERTS, className="wall-alerts", children=html.Div(t("wall.alerts.none", lang), className="wall-none")),
        class_name="wall-panel-alerts")


def ticker_panel(lang: str) -> html.Section:
    return panel("wall.panel.ticker", lang, html.Ol(id=Wall.TICKER, className="wall-ticker", children=[
        html.Li(t("wall.ticker.empty", lang), className="wall-none")]), class_name="wall-panel-ticker")
