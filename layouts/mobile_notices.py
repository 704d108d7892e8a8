"""/m's notices tab (网格通知, issue 31): a worker writes a notice for the residents' pages of her grids — title,
text, urgency, how long it holds, an optional picture — and sees the notices reaching her grids with their opens,
withdrawing her own. The page script is assets/44-mobile-notices.js (POST/GET /api/v1/notices)."""
from __future__ import annotations

from dash import dcc, html

from dashboard.i18n import t

DAYS = (1, 3, 7, 30)


def notices_tab(lang: str) -> html.Button:
    return html.Button(t("m.tab.notices", lang), id="m-tab-notices", className="m-tab", **{"data-tab": "notices"})


def _field(label: str, *children) -> html.Label:
    return html.Label(className="m-field", children=[html.Span(label, className="m-label"), *children])


def notices_pane(lang: str) -> html.Section:
    T = lambda k: t(k, lang)  # noqa: E731
    return html.Section(id="m-pane-notices", className="m-pane", hidden=True, children=[
        _field(T("m.notice.title"), dcc.Input(id="m-notice-title", type="text", maxLength=80, className="m-input",
                                              placeholder=T("m.notice.title_ph"), autoComplete="off")),
        _field(T("m.notice.body"), dcc.Textarea(id="m-notice-body", className="m-input", rows=3, maxLength=2000,
                                                placeholder=T("m.notice.body_ph"))),
        html.Div(className="m-row", children=[
            _field(T("m.notice.urgent"), html.Select(id="m-notice-urgent", className="m-input", children=[
                html.Option(T("m.notice.urgent.no"), value="0"), html.Option(T("m.notice.urgent.yes"), value="1")])),
            _field(T("m.notice.days"), html.Select(id="m-notice-days", className="m-input", children=[
                html.Option(T(f"m.notice.days.{d}"), value=str(d), selected=d == 7) for d in DAYS]))]),
        _field(T("m.notice.photo"), html.Div(id="m-notice-photo-slot", className="m-file",
                                             **{"data-input": "m-notice-photo"}),
               html.Div(id="m-notice-photo-preview", className="m-thumbs")),
        html.Button(T("m.notice.publish"), id="m-notice-publish", className="m-btn m-primary m-wide"),
        html.H3(T("m.notice.mine"), className="m-visit-head"),
        html.Ul(id="m-notices", className="m-notices"),
    ])
