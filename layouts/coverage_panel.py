"""A live patrol-coverage panel (foot and mouse patrols per grid today) for the wall, the console and /patrol.

assets/73-coverage.js fills every ``.gc-coverage`` from /api/v1/patrol/coverage and refreshes
it when patrol events arrive (and, throttled, when positions do), never on a timer alone.
"""
from __future__ import annotations

import json

from dash import html

from dashboard.i18n import t, texts_for


def coverage_panel(lang: str, *, rows: int = 8, community_id: int | None = None, theme: str = "dark",
                   title: bool = True) -> html.Div:
    """Summary (grids, foot, mouse, none) and the first ``rows`` grids nobody covered today."""
    attrs = {"data-rows": str(rows), "data-texts": json.dumps(texts_for(lang, "cov."), ensure_ascii=False)}
    if community_id is not None:
        attrs["data-community"] = str(community_id)
    return html.Div(className=f"gc-coverage gc-coverage--{theme}", **attrs, children=[
        html.Div(t("cov.title", lang), className="gc-coverage-title") if title else None,
        html.Div(className="gc-coverage-body", **{"data-role": "body"}),
    ])
