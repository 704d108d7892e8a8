"""/m's visits tab (走访, issue 31): record a household or place visit and see her recent ones, each promised
follow-up one tap from a case. The page script is assets/42-visits.js (POST/GET /api/v1/visits)."""
from __future__ import annotations

from dash import dcc, html

from dashboard.i18n import t


def visits_tab(lang: str) -> html.Button:
    return html.Button(t("m.tab.visits", lang), id="m-tab-visits", className="m-tab", **{"data-tab": "visits"})


def _field(label: str, *children) -> html.Label:
    return html.Label(className="m-field", children=[html.Span(label, className="m-label"), *children])


def visits_pane(lang: str) -> html.Section:
    """The form (kind, whom, place, needs, opinions, follow-up) and her recent visits."""
    T = lambda k: t(k, lang)  # noqa: E731
    return html.Section(id="m-pane-visits", className="m-pane", hidden=True, children=[
        html.Div(className="m-row", children=[
            _field(T("m.visit.kind"), html.Select(id="m-visit-kind", className="m-input", children=[
                html.Option(T("m.visit.kind.household"), value="household"),
                html.Option(T("m.visit.kind.place"), value="place")])),
            _field(T("m.visit.whom"), dcc.Input(id="m-visit-whom", type="text", maxLength=64, className="m-input",
                                               placeholder=T("m.visit.whom_ph"), autoComplete="off"))]),
        _field(T("m.visit.place"), dcc.Input(id="m-visit-place", type="text", maxLength=128, className="m-input",
                                             placeholder=T("m.visit.place_ph"), autoComplete="off")),
        _field(T("m.visit.needs"), dcc.Textarea(id="m-visit-needs", className="m-input", rows=2, maxLength=2000)),
        _field(T("m.visit.opinions"), dcc.Textarea(id="m-visit-opinions", className="m-input", rows=2,
                                                   maxLength=2000)),
        _field(T("m.visit.follow_up"), dcc.Textarea(id="m-visit-follow", className="m-input", rows=2, maxLength=2000,
                                                    placeholder=T("m.visit.follow_up_ph"))),
        html.Button(T("m.visit.save"), id="m-visit-save", className="m-btn m-primary m-wide"),
        html.H3(T("m.visit.recent"), className="m-visit-head"),
        html.Ul(id="m-visits", className="m-visits"),
    ])
