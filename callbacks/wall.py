"""The wall needs no server callbacks for live data (assets/30-wall.js applies events clientside).

The one callback here serves the bench-only polling variant (/wall-poll): the pattern the
wall avoids (dcc.Interval re-sending panels and the whole map), kept to measure the difference.
"""
from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from layouts.access import allowed
from layouts.wall.ids import WallPoll
from layouts.wall.poll import base_figure, poll_frame


def register(app, services) -> None:
    built: dict = {}  # the static map, built on the first tick (not at import or registration)

    @app.callback(Output(WallPoll.KPI, "children"), Output(WallPoll.MAP, "figure"), Output(WallPoll.TICKER, "children"),
                  Input(WallPoll.TICK, "n_intervals"))
    def poll_tick(_n):
        p = allowed(services, "dispatcher", "leader", "display")
        if p is None or p.community_id is not None:  # the bench page draws the whole street only
            raise PreventUpdate
        if "base" not in built:
            built["base"] = base_figure(services)
        return poll_frame(services, built["base"])
