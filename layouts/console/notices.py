"""/console's notices panel (网格通知, issue 31): the center publishes a notice to a community or the whole street
(a community-bound user: its own community only) and follows each notice's opens per grid. The frame is rendered
here; assets/51-console-notices.js fills it through /api/v1/notices."""
from __future__ import annotations

import json

from dash import dcc, html

from dashboard.i18n import place_name, t, texts_for

DAYS = (1, 3, 7, 30)


def notices_panel(lang: str, communities: list, *, street_wide: bool) -> html.Section:
    """``communities``: (id, name) rows the caller may publish to; ``street_wide``: may it send to the street."""
    T = lambda k: t(k, lang)  # noqa: E731
    scopes = [html.Option(T("cn.scope.community"), value="community")]
    if street_wide:
        scopes.append(html.Option(T("cn.scope.street"), value="street"))
    form = html.Div(id="cn-form", className="cn-form", hidden=True, children=[
        html.Div(className="cn-row", children=[
            html.Label([T("cn.scope"), html.Select(id="cn-scope", children=scopes)]),
            html.Label([T("cn.community"), html.Select(id="cn-community", children=[
                html.Option(place_name(name, lang) or name, value=str(cid)) for cid, name in communities])])]),
        html.Label([T("cn.title_field"), dcc.Input(id="cn-title", type="text", maxLength=80, autoComplete="off")]),
        html.Label([T("cn.body"), dcc.Textarea(id="cn-body", rows=3, maxLength=2000)]),
        html.Div(className="cn-row", children=[
            html.Label([T("cn.urgent"), html.Select(id="cn-urgent", children=[
                html.Option(T("cn.urgent.no"), value="0"), html.Option(T("cn.urgent.yes"), value="1")])]),
            html.Label([T("cn.days"), html.Select(id="cn-days", children=[
                html.Option(T(f"cn.days.{d}"), value=str(d), selected=d == 7) for d in DAYS])])]),
        html.Div(className="cn-row", children=[
            html.Button(T("cn.publish"), id="cn-publish", type="button", className="console-btn"),
            html.Button(T("cn.cancel"), id="cn-cancel", type="button", className="console-btn")]),
    ])
    texts = {k: v for k, v in texts_for(lang).items() if k.startswith("cn.")}
    return html.Section(id="cn-panel", className="console-pane cn-panel", **{
        "data-texts": json.dumps(texts, ensure_ascii=False)}, children=[
        html.Div(className="cn-head", children=[
            html.H2(T("cn.title")),
            html.Div(className="cn-row", children=[
                html.Button(T("cn.refresh"), id="cn-refresh", type="button", className="console-btn"),
                html.Button(T("cn.new"), id="cn-new", type="button", className="console-btn")])]),
        form,
        html.P(id="cn-msg", className="cn-msg", role="status"),
        html.Ul(id="cn-list", className="cn-list"),
    ])
