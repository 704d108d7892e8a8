"""The page router: the URL decides which page layout is shown."""
from __future__ import annotations

from dash import Input, Output, State

from layouts.access import caller
from layouts.app import page_for
from layouts.ids import Shell


def register(app, services) -> None:
    @app.callback(Output(Shell.PAGE, "children"), Input(Shell.URL, "pathname"), State(Shell.URL, "search"))
    def route(pathname, search):
        return page_for(pathname, search, services, caller(services))
