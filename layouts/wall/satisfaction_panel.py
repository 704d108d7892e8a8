"""The wall's residents' satisfaction panel (issue 31), a panel option: ``/wall?panel=satisfaction`` shows it in the
五治 panel's slot. Street (or the wall's community) figures of the last 30 days — share closed to the residents'
satisfaction, median response time, rework from 不满意 — rendered here, refetched by assets/33-wall-satisfaction.js
when a resident's report, its first response or a resident's answer comes by as a case event."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import t
from dashboard.services import satisfaction as sat
from dashboard.timeutil import local_today

from ..access import own_community

PANEL_ID = "wall-sat"
FIGURES = ("satisfied_share", "response_median_min", "rework")
LINE = ("reports", "answered_share", "response_p90_min")


def show(key: str, v: Any, lang: str) -> str:
    """A figure as the panel writes it (the same rules as 33-wall-satisfaction.js)."""
    if v is None:
        return "—"
    if key.endswith("_share"):
        return f"{v * 100:.1f}%"
    if key.endswith("_min"):
        return t("brief.sat.minutes", lang, n=f"{v:g}")
    return f"{v:,}"


def satisfaction_panel(lang: str, services) -> html.Section:
    """The panel with the figures as they are now (kept 15 s per scope: ten walls opening build them once; each
    wall's script refetches them once it is up)."""
    own = own_community(services)

    def build() -> dict[str, Any]:
        with services.db.read() as s:
            return sat.for_day(s, local_today(), own)["total"]

    tot = services.memo.get(("wall-sat", own, local_today().isoformat()), 15, build)
    return html.Section(id=PANEL_ID, className="wall-panel wall-panel-sat", **{
        "data-url": "/api/v1/satisfaction?days=30", "data-min": t("brief.sat.minutes", lang, n="{n}")}, children=[
        html.H2(t("wall.sat.title", lang)),
        html.Div(className="wall-sat-figures", children=[
            html.Div(className=f"wall-sat-fig wall-sat-{k}", children=[
                html.Span(show(k, tot[k], lang), className="wall-sat-value", **{"data-key": k}),
                html.Span(t(f"wall.sat.{k}", lang), className="wall-kpi-label")]) for k in FIGURES]),
        html.Div(className="wall-sat-line", children=[
            html.Span([html.Span(t(f"wall.sat.{k}", lang) + " ", className="wall-sat-line-label"),
                       html.B(show(k, tot[k], lang), className="wall-sat-value", **{"data-key": k})]) for k in LINE]),
    ])
