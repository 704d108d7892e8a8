"""/patrol: the coverage table (foot and mouse patrols per grid today); the tour runner is clientside."""
from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard.services.tours import coverage
from layouts.access import allowed, own_community
from layouts.patrol import PatrolIds as P, coverage_table


def register(app, services) -> None:
    @app.callback(Output(f"{P.COVERAGE}-box", "children"), Input(P.COVERAGE_REFRESH, "n_clicks"),
                  Input(P.COVERAGE_COMMUNITY, "value"), State(P.ROOT, "data-lang"),
                  prevent_initial_call=True)
    def refresh_coverage(_clicks, community_id, lang):
        if allowed(services, "dispatcher") is None:
            raise PreventUpdate
        cid = own_community(services, int(community_id) if community_id else None)
        with services.db.read() as s:
            rows = coverage(s, community_id=cid)
        return coverage_table(rows, lang or "zh-CN", table_id=P.COVERAGE, limit=60)
