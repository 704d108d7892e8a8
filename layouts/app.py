"""The Dash app on top of the core server: assets, the page router, the language switch."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import dash
from dash import dcc, html

from dashboard.i18n import label, normalise_lang, request_lang, t
from dashboard.models import Role

from . import (
    admin,
    briefing,
    call_page,
    console,
    governance_form,
    governance_panel,
    home,
    login,
    mobile,
    not_found,
    page_scripts,
    password,
    patrol,
    residents,
    wall,
)
from .ids import Shell

ASSETS = Path(__file__).resolve().parent.parent / "dashboard" / "assets"

# path → module with ``layout(lang, query, services)``: every page of the app, in one place
PAGES: dict[str, object] = {
    "/": home,
    "/login": login,                    # desk sign-in
    "/password": password,              # first sign-in: set your own password (issue 28)
    "/wall": wall,                      # the big screen
    "/wall-poll": wall.poll,            # the benchmark's polling wall (not in production: DEV_ONLY)
    "/briefing": briefing,              # the leader's daily situation
    "/console": console,                # the dispatcher's desk
    "/patrol": patrol,                  # mouse patrol
    "/call": call_page,                 # video dispatch
    "/m": mobile,                       # the grid worker's phone page
    "/m/activity": governance_form,     # 网格+五治 activity form (issue 10)
    "/governance": governance_panel,    # 网格+五治 panel (issue 10)
    "/admin": admin,                    # administration (issue 28)
    "/r": residents,                    # the residents' page: no account, from a compound's QR code (issue 31)
}
# pages a production server does not serve (they answer 404 there): the benchmark's polling wall
DEV_ONLY = frozenset({"/wall-poll"})


# who may open each page (None = anyone: the page signs in by itself or shows nothing private). Admins may
# open every page. The data on a page comes from the scoped APIs and socket rooms; this keeps the page
# itself (and its server callbacks) from anyone who may not use it.
_VIEW = frozenset({Role.DISPATCHER, Role.LEADER, Role.DISPLAY})
_OPS = frozenset({Role.DISPATCHER})
PAGE_ROLES: dict[str, frozenset | None] = {
    "/": None, "/login": None, "/m": None,  # /m signs a worker in by itself
    "/r": None,  # residents have no account: the page shows only public and masked data
    "/m/activity": frozenset({Role.WORKER, Role.DISPATCHER}),
    "/wall": _VIEW, "/wall-poll": _VIEW, "/governance": _VIEW, "/briefing": frozenset({Role.DISPATCHER, Role.LEADER}),
    "/console": _OPS, "/patrol": _OPS, "/call": frozenset({Role.DISPATCHER, Role.WORKER}),
    "/password": frozenset(Role), "/admin": frozenset({Role.ADMIN}),
}
# a user on a one-time or reset password sees only these until they have set their own
PASSWORD_PAGES = frozenset({"/password", "/login"})


def page_module(path: str, services):
    """The page module serving ``path`` on this server, or None (unknown, or not served in production)."""
    if path in DEV_ONLY and services.settings.production:
        return None
    return PAGES.get(path)


def password_url(path: str, search: str | None, lang: str | None = None) -> str:
    from urllib.parse import quote

    return "/password?next=" + quote(path + (search or ""), safe="") + ("&lang=en" if lang == "en" else "")


def page_path(pathname: str | None) -> str:
    return (pathname or "/").rstrip("/") or "/"


def page_access(path: str, principal) -> str:
    """'ok', 'sign_in' (anonymous on a private page) or 'forbidden' (signed in with the wrong role)."""
    roles = PAGE_ROLES.get(path)
    if roles is None:
        return "ok"
    if principal is None:
        return "sign_in"
    return "ok" if principal.role in roles or principal.role == Role.ADMIN else "forbidden"


def sign_in_url(path: str, search: str | None) -> str:
    from urllib.parse import quote

    return "/login?next=" + quote(path + (search or ""), safe="")


# plotly.js with only the trace types the pages draw (scripts/plotly-bundle): a third of the full bundle's
# size and ~0.3 s instead of ~1.2 s of main-thread evaluation on a 2-core wall PC with software WebGL.
PLOTLY_BUNDLE = Path(__file__).resolve().parent.parent / "dashboard" / "static" / "vendor" / "plotly-gc.min.js"
# where dash-renderer loads plotly.js from when a page first shows a graph (window._dashPlotlyJSURL, serve_locally)
PLOTLY_URL = "/_dash-component-suites/plotly/package_data/plotly.min.js"


def _serve_plotly_bundle(server) -> None:
    """Answer dash-renderer's plotly.js request with the partial bundle (a static rule outranks Dash's)."""
    from flask import send_file

    def plotly_js():
        return send_file(PLOTLY_BUNDLE, mimetype="application/javascript", conditional=True, etag=True, max_age=0)

    server.add_url_rule(PLOTLY_URL, "gc_plotly_bundle", plotly_js)


def create_dash(server, services) -> dash.Dash:
    """A Dash app served by ``server``; every script and style comes from this server."""
    app = dash.Dash(
        __name__, server=server, url_base_pathname="/", assets_folder=str(ASSETS), serve_locally=True,
        assets_ignore=page_scripts.ASSETS_IGNORE,  # each page adds only its own (page_scripts.install)
        suppress_callback_exceptions=True, update_title=None, title="网格化服务管理指挥中心",
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = html.Div([
        dcc.Location(id=Shell.URL, refresh=False),
        dcc.Store(id=Shell.LANG, storage_type="local"),
        html.Div(id=Shell.PAGE),
    ])
    app.index_string = app.index_string.replace("<html>", '<html lang="zh-CN">')
    page_scripts.install(app, ASSETS)
    _refused_texts(app)
    from . import lang as _lang  # ?lang= remembered, <html lang>, the shared enum and error texts

    _lang.install(app, server, lambda p: page_path(p) in PAGES)
    _serve_plotly_bundle(server)
    from dashboard.api.security import set_script_hashes  # CSP: Dash's inline scripts by hash (issue 8)

    set_script_hashes(server, app.csp_hashes)
    _guard_pages(server, services)
    return app


def _refused_texts(app) -> None:
    """Every page carries the words 07-gc-refused.js shows when the API refuses the page its data (a JSON data
    block: not run, so the CSP has nothing to allow)."""
    import json

    from dashboard.i18n import LANGS, texts_for

    block = json.dumps({lang: texts_for(lang, "refused.") for lang in LANGS}, ensure_ascii=False).replace("</", "<\\/")
    tag = f'<script type="application/json" id="gc-refused-texts">{block}</script>'
    base = app.interpolate_index

    def interpolate_index(**kw):
        kw["scripts"] = kw.get("scripts", "") + tag
        return base(**kw)

    app.interpolate_index = interpolate_index


def _guard_pages(server, services) -> None:
    """Private pages redirect an anonymous visitor to /login before any script loads; Dash's callback
    door admits anonymous callers only for the page router (which itself answers with the sign-in page)."""
    from flask import redirect, request

    from dashboard.principal import resolve_principal
    from dashboard.api.errors import ApiError, error_response

    router_output = f"{Shell.PAGE}.children"

    @server.before_request
    def _page_door():
        try:
            path = page_path(request.path)
            if request.method == "GET" and page_module(path, services) is not None:
                p = resolve_principal(services)
                search = "?" + request.query_string.decode() if request.query_string else ""
                if page_access(path, p) == "sign_in":
                    return redirect(sign_in_url(request.path, search), code=302)
                if p is not None and p.must_change_password and path not in PASSWORD_PAGES:
                    return redirect(password_url(request.path, search, normalise_lang(request.args.get("lang"))),
                                    code=302)
            elif request.method == "POST" and request.path == "/_dash-update-component":
                body = request.get_json(silent=True) or {}
                if body.get("output") != router_output:
                    p = resolve_principal(services)
                    if p is None:
                        return error_response(401, "sign in first")
                    if p.must_change_password:  # as the API door: nothing but the password change until then
                        return error_response(403, "change your one-time password first (POST /auth/password)")
        except ApiError as e:  # a revoked key in the header
            return error_response(e.status, e.message, e.field)
        return None

    @server.after_request
    def _not_found_status(resp):
        """Dash answers every path with its index page; a path no page serves says so with a 404 (the router
        shows the not-found page in the product's style)."""
        rule = request.url_rule.rule if request.url_rule is not None else None
        if request.method == "GET" and rule == "/<path:path>" and resp.status_code == 200 \
                and page_module(page_path(request.path), services) is None:
            resp.status_code = 404
        return resp


def page_for(pathname: str | None, search: str | None, services, principal=None):
    """The layout for a path; unknown paths get a plain not-found page, private ones the sign-in door."""
    query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = request_lang(query.get("lang"))  # ?lang=, else the visitor's last choice (layouts/lang.py)
    path = page_path(pathname)
    module = page_module(path, services)
    if module is None:
        return not_found.layout(lang, query, services, path=path)
    access = page_access(path, principal)
    if access == "sign_in":  # reached by a client-side link: leave for the sign-in page
        return html.Div([dcc.Location(id="shell-to-login", href=sign_in_url(path, search), refresh=True),
                         html.P(t("page.sign_in_first", lang))], className="gc-page")
    if principal is not None and principal.must_change_password and path not in PASSWORD_PAGES:
        return html.Div([dcc.Location(id="shell-to-password", href=password_url(path, search, lang), refresh=True),
                         html.P(t("pw.why", lang))], className="gc-page")
    if access == "forbidden":
        return html.Div([html.H1("403"), html.P(t("page.forbidden", lang, role=label("role", principal.role, lang))),
                         html.A(t("nav.login", lang), href=sign_in_url(path, search))], className="gc-page")
    return module.layout(lang, query, services)
