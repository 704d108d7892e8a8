"""The wall's side panels: KPI tiles, charts, ranking, alerts and the ticker (first render on the server)."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import t

from .ids import Wall

KPIS = ["reported", "onsite", "escalated", "dispatched", "in_progress", "closed", "overdue", "on_duty", "patrolling"]
RATES = ["self_rate", "ontime_rate"]


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


def axis_top(v: float) -> int:
    """The count axis ends at 5, 10, 20, 50, 100, 200, …: it moves in steps, not with every case (a wall watched
    all day should not twitch, and Plotly caches every tick label it measured at each position).
    The same rule is ``axisTop`` in assets/32-wall-panels.js."""
    top = 5
    while top < v:
        top = top * 2 if str(top)[0] in "15" else top * 5 // 2
    return top


def ranking_rows(stats: dict[str, Any]) -> list:
    return [html.Tr([html.Td(str(i + 1), className="wall-rank-n"), html.Td(r["name"]), html.Td(r["reported"]),
                     html.Td(r["open"]), html.Td(r["closed"])]) for i, r in enumerate(stats["ranking"][:9])]


def ranking_panel(stats: dict[str, Any], lang: str) -> html.Section:
    head = html.Tr([html.Th("#"), *[html.Th(t(f"wall.rank.{k}", lang)) for k in ("community", "reported", "open",
                                                                                 "closed")]])
    return panel("wall.panel.ranking", lang, html.Table(className="wall-rank", children=[
        html.Thead(head), html.Tbody(ranking_rows(stats), id=Wall.RANKING)]), class_name="wall-panel-ranking")


def chart_panel(title_key: str, chart_id: str, lang: str, class_name: str) -> html.Section:
    """A chart the page draws (SVG, assets/32-wall-panels.js) from the figures in its config."""
    return panel(title_key, lang, html.Div(id=chart_id, className="wall-chart"), class_name=class_name)


def alert_panel(lang: str) -> html.Section:
    return panel("wall.panel.alerts", lang, html.Div(
        id=Wall.ALERTS, className="wall-alerts", children=html.Div(t("wall.alerts.none", lang), className="wall-none")),
        class_name="wall-panel-alerts")


def ticker_panel(lang: str) -> html.Section:
    return panel("wall.panel.ticker", lang, html.Ol(id=Wall.TICKER, className="wall-ticker", children=[
        html.Li(t("wall.ticker.empty", lang), className="wall-none")]), class_name="wall-panel-ticker")
