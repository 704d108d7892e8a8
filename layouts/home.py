"""The start page: what is running and where the screens are."""
from __future__ import annotations

from dash import html

from dashboard.i18n import t
from dashboard.services.street_status import status_counts

from .access import caller, own_community
from .ids import Home

LINKS = [("/wall", "nav.wall"), ("/console", "nav.console"), ("/briefing", "nav.briefing"),
         ("/m", "nav.mobile"), ("/governance", "gov.title"), ("/login", "nav.login"), ("/patrol", "patrol.title"), ("/call", "call.page")]


def status_rows(services) -> list[tuple[str, int]]:
    """Counts for the status table, in the caller's jurisdiction (one query each, all cheap)."""
    with services.db.read() as s:
        return status_counts(s, community_id=own_community(services))


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(className="gc-home", children=[
        html.Header([
            html.H1(t("app.title", lang)),
            html.Span(t("app.street", lang), className="gc-sub"),
            html.A(t("lang.switch", lang), href=f"/?lang={other}", className="gc-lang"),
        ]),
        html.Nav([html.A(t(key, lang), href=f"{path}?lang={lang}", className="gc-nav-link") for path, key in LINKS]),
        *_status(lang, services),
    ])


def _status(lang: str, services) -> list:
    """The counts of the caller's jurisdiction, for anyone signed in (an anonymous visitor sees the links only)."""
    if caller(services) is None:
        return []
    return [html.H2(t("home.status", lang)),
            html.Table(id=Home.STATUS, className="gc-status", children=[
                html.Tr([html.Th(t(k, lang)), html.Td(f"{v:,}")]) for k, v in status_rows(services)])]
