"""/console: the small map follows the case or alert in focus, clientside (no server round trip).

The JS sets the ``console-focus`` store; ``dash_clientside.console.focus`` (assets/50-console.js)
moves the markers with Plotly.restyle/relayout, one call at a time — re-rendering a MapLibre
figure through the store breaks its style, so the figure itself is never sent back.
"""
from __future__ import annotations

from dash import ClientsideFunction, Input, Output

from layouts.console.ids import Console


def register(app, services) -> None:
    app.clientside_callback(ClientsideFunction(namespace="console", function_name="focus"),
                            Output(Console.DRAWN, "data"), Input(Console.FOCUS, "data"), prevent_initial_call=True)
