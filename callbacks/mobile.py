"""/m: the map's pan (relayoutData) goes to the page script, which keeps the report location."""
from __future__ import annotations

from dash import Input, Output

from layouts.mobile import MobileIds


def register(app, services) -> None:
    app.clientside_callback(
        """function (relayout) {
            if (window.GCMobile && relayout) { window.GCMobile.mapMoved(relayout); }
            return window.dash_clientside.no_update;
        }""",
        Output(MobileIds.MAP_SINK, "title"),
        Input(MobileIds.MAP, "relayoutData"),
        prevent_initial_call=True,
    )
