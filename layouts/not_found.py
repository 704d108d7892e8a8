"""The page for a path no page serves (the server answers it with a 404)."""
from __future__ import annotations

from dash import html

from dashboard.i18n import t
from dashboard.principal import safe_next_path


def layout(lang: str, query: dict, services, path: str = ""):
    other = "en" if lang == "zh-CN" else "zh-CN"
    suffix = "?lang=en" if lang == "en" else ""
    # the switch stays on this site: ``//host``, ``/\\host``, ``/<tab>/host`` read as another site in a browser
    here = safe_next_path(path.split("?", 1)[0])
    return html.Div(className="gc-home gc-notfound", children=[
        html.Header([
            html.H1(t("app.title", lang)),
            html.Span(t("app.street", lang), className="gc-sub"),
            html.A(t("lang.switch", lang), href=f"{here}?lang={other}", className="gc-lang"),
        ]),
        html.Div(className="gc-notfound-box", children=[
            html.H2(["404 · ", t("page.not_found", lang)], id="gc-notfound-title"),
            html.P(t("page.not_found_why", lang, path=path[:200]), id="gc-notfound-path"),
            html.A(t("page.not_found_home", lang), href="/" + suffix, className="gc-nav-link"),
        ]),
    ])
