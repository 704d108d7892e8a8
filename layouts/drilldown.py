"""The grid drill-down panel (人地事物情组织) a page includes once; assets/72-drilldown.js fills it.

A click on a grid of any map inside an element marked ``data-drilldown`` opens the panel
(``drill_map_wrapper``), or a script calls ``GCDrill.open(gridId)``. ``scope="wall"`` asks
the server for the wall variant (no reporters; every name and phone masked either way).
"""
from __future__ import annotations

import json

from dash import html

from dashboard.i18n import t, texts_for

SCOPES = ("console", "wall")


def drilldown_panel(lang: str, *, scope: str = "console", calls: bool = False) -> html.Div:
    """The (hidden) panel; ``calls`` adds 视频通话 buttons on workers (needs the console call widget)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    return html.Div(id="gc-drill", className=f"gc-drill gc-drill--{scope}", hidden=True, **{
        "data-scope": scope, "data-calls": "1" if calls else "0",
        "data-texts": json.dumps({**texts_for(lang, "drill."), **texts_for(lang, "case.state.")},
                                 ensure_ascii=False)}, children=[
        html.Div(className="gc-drill-head", children=[
            html.Span(t("drill.title", lang), className="gc-drill-title", **{"data-role": "title"}),
            html.Button("×", className="gc-drill-close", title=t("drill.close", lang), **{"data-role": "close"}),
        ]),
        html.Div(className="gc-drill-body", **{"data-role": "body"}),
    ])


def drill_map_wrapper(graph, **kw) -> html.Div:
    """Wrap a dcc.Graph whose choropleth locations are grid ids: a click on a grid opens the panel."""
    return html.Div(graph, **{"data-drilldown": "1"}, **kw)


def drill_button(lang: str, grid_id: int, *, label: str | None = None, class_name: str = "") -> html.Button:
    """A 网格档案 button that opens the panel for ``grid_id``."""
    return html.Button(label or t("drill.title", lang), className=f"gc-drill-btn {class_name}".strip(),
                       **{"data-grid-id": str(grid_id)})
