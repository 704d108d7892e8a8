"""/call — video dispatch on its own page, in the console's look: search a worker (the caller's community only:
/api/v1/workers is scoped) and call, optionally about a case; ``?worker_id=N`` is that worker's answering side
(what /m shows), for a desk test, of a worker in the caller's jurisdiction; ``?role=worker`` answers for whoever is
signed in."""
from __future__ import annotations

import json

from dash import dcc, html

from dashboard.i18n import t
from dashboard.masking import mask_name
from dashboard.services.workers import worker_in_scope

from .access import own_community
from .call_widget import call_widget

TEXTS = ("call.search_none", "call.search_more", "call.chosen", "call.search_failed")


def _head(lang: str, other_href: str):
    return html.Header(className="console-header gc-callpage-head", children=[
        html.H1(t("call.page", lang)),
        html.Div(className="console-head-right", children=[
            html.A(t("nav.console", lang), href=f"/console?lang={lang}", className="console-link"),
            html.A(t("lang.switch", lang), href=other_href, className="console-link"),
        ]),
    ])


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    wid = query.get("worker_id")
    head = _head(lang, f"/call?lang={other}" + (f"&worker_id={wid}" if wid else ""))
    if query.get("role") == "worker":  # whoever is signed in on this browser answers (as on /m)
        return html.Div(className="console-root gc-callpage gc-callpage--worker", children=[
            head, call_widget(lang, role="worker", autostart=True)])
    if wid and wid.isascii() and wid.isdigit() and len(wid) < 19:  # an id SQLite can hold
        with services.db.read() as s:  # a community's user: its own community's workers only
            w = worker_in_scope(s, int(wid), community_id=own_community(services))
        if w is None:
            return html.Div([head, html.P(t("call.no_worker", lang, id=wid), className="gc-callpage-note")],
                            className="console-root gc-callpage")
        return html.Div(className="console-root gc-callpage gc-callpage--worker", children=[
            head, html.P(f"{t('call.worker', lang)}：{w.code} {mask_name(w.name)}", id="call-page-worker",
                         className="gc-callpage-note"),
            call_widget(lang, role="worker", worker_id=w.id, autostart=True)])
    texts = {k: t(k, lang) for k in TEXTS}
    return html.Div(className="console-root gc-callpage", children=[
        head,
        html.Div(className="gc-callpage-body", children=[
            html.Div(className="console-col gc-callpage-form", **{"data-texts": json.dumps(texts, ensure_ascii=False)},
                     children=[
                html.Label([t("call.worker_search", lang),
                            dcc.Input(id="call-page-worker-search", type="search", autoComplete="off",
                                      placeholder=t("call.worker_search_hint", lang), debounce=False)]),
                html.Ul(id="call-page-results", className="gc-callpage-results", role="listbox"),
                html.P(id="call-page-chosen", className="gc-callpage-chosen"),
                # the chosen worker's id, read by the call button (71-call.js data-worker-from)
                dcc.Input(id="call-page-worker-select", type="hidden", value=""),
                html.Label([t("call.case", lang),
                            dcc.Input(id="call-page-case", type="text", inputMode="numeric", style={"width": "8em"})]),
                html.Button(t("call.button", lang), id="call-page-start", className="console-btn gc-call-btn",
                            **{"data-worker-from": "call-page-worker-select", "data-case-from": "call-page-case"}),
            ]),
        ]),
        call_widget(lang, role="console", autostart=True),
    ])
