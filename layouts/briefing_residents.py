"""/briefing's residents sections (issue 31): residents' satisfaction over the last 30 days and the day's visits."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import place_name, t
from dashboard.services.summary import pct


def minutes(v: float | None, lang: str) -> str:
    """12.5 → '12.5 分钟' / '12.5 min'; None → '—'."""
    return "—" if v is None else t("brief.sat.minutes", lang, n=f"{v:g}")


def satisfaction_card(b: dict[str, Any], lang: str) -> html.Section:
    """The street's (or community's) figures as tiles, then one row per community."""
    sat = b.get("satisfaction")
    title = t("brief.sat.title", lang, days=(sat or {}).get("days", 30))
    if not sat:
        return html.Section(className="gcb-card gcb-sat", children=[html.H2(title)])
    tot = sat["total"]
    tiles = [("reports", str(tot["reports"])), ("response_median", minutes(tot["response_median_min"], lang)),
             ("response_p90", minutes(tot["response_p90_min"], lang)),
             ("satisfied_share", pct(tot["satisfied_share"])), ("answered_share", pct(tot["answered_share"])),
             ("rework", str(tot["rework"]))]
    head = [t("brief.community", lang)] + [t(f"brief.sat.{k}", lang) for k in (
        "reports", "response_median", "response_p90", "answered", "satisfied_share", "rework")]
    rows = [[place_name(c["name"], lang), c["reports"], minutes(c["response_median_min"], lang),
             minutes(c["response_p90_min"], lang), f"{c['answered']}/{c['closed']}", pct(c["satisfied_share"]),
             c["rework"]] for c in sat["communities"]]
    return html.Section(className="gcb-card gcb-sat", id="brief-satisfaction", children=[
        html.H2(title),
        html.P(t("brief.sat.period", lang, first=sat["first_day"], last=sat["last_day"]), className="gcb-sat-period"),
        html.Div(className="gcb-sat-tiles", children=[
            html.Div(className="gcb-sat-tile", **{"data-key": k}, children=[
                html.Div(t(f"brief.sat.{k}", lang), className="gcb-kpi-label"),
                html.Div(v, className="gcb-kpi-value")]) for k, v in tiles]),
        html.Table(className="gcb-table gcb-sat-table", children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows])]) if tot["reports"] else
        html.P(t("brief.sat.none", lang), className="gcb-none"),
    ] + grid_details(sat, head, lang))


def visits_card(b: dict[str, Any], lang: str) -> html.Section:
    """The day's visits: how many, households and places, follow-ups promised and made cases."""
    v = b.get("visits") or {}
    keys = ("count", "household", "place", "follow_ups", "cases", "workers")
    return html.Section(className="gcb-card gcb-visits", id="brief-visits", children=[
        html.H2(t("brief.visits.title", lang)),
        html.Table(className="gcb-table", children=[
            html.Thead(html.Tr([html.Th(t(f"brief.visits.{k}", lang)) for k in keys])),
            html.Tbody(html.Tr([html.Td(v.get(k, 0)) for k in keys]))])])


def grid_details(sat: dict[str, Any], head: list[str], lang: str) -> list:
    """Each grid with reports, folded (a street has hundreds of grids; most have none)."""
    if not sat["grids"]:
        return []
    return [
        html.Details(className="gcb-sat-grids", children=[
            html.Summary(t("brief.sat.by_grid", lang, n=len(sat["grids"]))),
            html.Table(className="gcb-table gcb-sat-table", children=[
                html.Thead(html.Tr([html.Th(h) for h in [t("brief.grid_name", lang)] + head[1:]])),
                html.Tbody([html.Tr([html.Td(c) for c in [place_name(g["name"], lang), g["reports"],
                                                          minutes(g["response_median_min"], lang),
                                                          minutes(g["response_p90_min"], lang),
                                                          f"{g['answered']}/{g['closed']}", pct(g["satisfied_share"]),
                                                          g["rework"]]]) for g in sat["grids"]])])])]
