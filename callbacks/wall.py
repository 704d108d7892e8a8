"""The wall needs no server callbacks for live data (assets/30-wall.js applies events clientside).

The one callback here serves the bench-only polling variant (/wall-poll): the pattern the
wall avoids (dcc.Interval re-sending panels and the whole map), kept to measure the difference.
"""
from __future__ import annotations

from dash import Input, Output

from layouts.wall.ids import WallPoll
from layouts.wall.poll import poll_frame


def register(app, services) -> None:
    @app.callback(Output(WallPoll.KPI, "children"), Output(WallPoll.MAP, "figure"), Output(WallPoll.TICKER, "children"),
                  Input(WallPoll.TICK, "n_intervals"))
    def poll_tick(_n):
        return poll_frame(services)
