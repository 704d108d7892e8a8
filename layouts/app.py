"""The Dash app on top of the core server: assets, the page router, the language switch."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import dash
from dash import dcc, html

from dashboard.i18n import normalise_lang

from . import home, wall
from .ids import Shell

ASSETS = Path(__file__).resolve().parent.parent / "dashboard" / "assets"

# path → module with ``layout(lang, query, services)``; pages register here
PAGES: dict[str, object] = {"/": home, "/wall": wall, "/wall-poll": wall.poll}
from . import briefing as _briefing  # noqa: E402
PAGES["/briefing"] = _briefing  # the leader's daily situation
from . import call_page, patrol  # noqa: E402
PAGES.update({"/patrol": patrol, "/call": call_page})  # mouse patrol, video dispatch
from . import mobile  # noqa: E402
PAGES["/m"] = mobile  # the grid worker phone page
from . import console  # noqa: E402
PAGES["/console"] = console  # the dispatcher's desk
from . import governance_form, governance_panel  # noqa: E402
PAGES.update({"/m/activity": governance_form, "/governance": governance_panel})  # 网格+五治 (issue 10)
from . import login  # noqa: E402
PAGES["/login"] = login  # desk sign-in


def create_dash(server, services) -> dash.Dash:
    """A Dash app served by ``server``; every script and style comes from this server."""
    app = dash.Dash(
        __name__, server=server, url_base_pathname="/", assets_folder=str(ASSETS), serve_locally=True,
        suppress_callback_exceptions=True, update_title=None, title="网格化服务管理指挥中心",
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = html.Div([
        dcc.Location(id=Shell.URL, refresh=False),
        dcc.Store(id=Shell.LANG, storage_type="local"),
        html.Div(id=Shell.PAGE),
    ])
    app.index_string = app.index_string.replace("<html>", '<html lang="zh-CN">')
    from dashboard.api.security import set_script_hashes  # CSP: Dash's inline scripts by hash (issue 8)

    set_script_hashes(server, app.csp_hashes)
    return app


def page_for(pathname: str | None, search: str | None, services):
    """The layout for a path; unknown paths get a plain not-found page."""
    query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = normalise_lang(query.get("lang"))
    path = (pathname or "/").rstrip("/") or "/"
    module = PAGES.get(path)
    if module is None:
        return html.Div([html.H1("404"), html.P(f"{path}"), html.A("/", href="/")], className="gc-page")
    return module.layout(lang, query, services)
