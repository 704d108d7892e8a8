"""/r: the map's pan (relayoutData) goes to the page script, which keeps the report's location (as /m does)."""
from __future__ import annotations

from dash import Input, Output

from layouts.residents import ResidentIds


def register(app, services) -> None:
    app.clientside_callback(
        """function (relayout) {
            if (window.GCResidents && relayout) { window.GCResidents.mapMoved(relayout); }
            return window.dash_clientside.no_update;
        }""",
        Output(ResidentIds.MAP_SINK, "title"),
        Input(ResidentIds.MAP, "relayoutData"),
        prevent_initial_call=True,
    )
