"""/admin — administration on screen: users, API keys and wall display tokens, the audit log, grid workers, the
category catalogue (deadline and its clock) and the departments cases are routed to.

The server renders the frame (header, tabs, empty panes) once; assets/80-admin.js fills each tab from the same
documented /api/v1 calls an integration would make (users, api-keys, audit, workers, grids, categories, departments) and acts through
them, so every rule (roles, a community admin's jurisdiction, sessions ending on a change, the audit row) is
the API's. Texts come from dashboard/i18n/admin.json in the page's language.
"""
from __future__ import annotations

import json

from dash import html

from dashboard.i18n import t, texts_for

from .access import caller

TABS = ("users", "keys", "audit", "workers", "grids", "devices", "categories", "departments", "notify")
STREET_ONLY = ("notify",)  # the notify outbox (issue 31) is the street's delivery: street-wide admins only
TEXT_PREFIXES = ("admin.", "role.", "priority.")


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    p = caller(services)
    cfg = {"lang": lang, "texts": {k: v for k, v in texts_for(lang).items() if k.startswith(TEXT_PREFIXES)},
           "community_id": p.community_id if p is not None else None}
    tabs = TABS if p is None or p.community_id is None else tuple(x for x in TABS if x not in STREET_ONLY)
    tab = query.get("tab") if query.get("tab") in tabs else tabs[0]
    scope = t("admin.scope.street", lang) if p is None or p.community_id is None else \
        t("admin.scope.community", lang, id=p.community_id)
    return html.Div(id="admin-root", className="console-root admin-root",
                    **{"data-config": json.dumps(cfg, ensure_ascii=False), "data-tab": tab}, children=[
        html.Header(className="console-header", children=[
            html.H1([t("admin.title", lang), html.Span(scope, className="console-sub", id="admin-scope")]),
            html.Div(className="console-head-right", children=[
                html.A(t("nav.console", lang), href=f"/console?lang={lang}", className="console-link"),
                html.A(t("admin.home", lang), href=f"/?lang={lang}", className="console-link"),
                html.A(t("lang.switch", lang), href=f"/admin?lang={other}&tab={tab}", className="console-link",
                       id="admin-lang"),
            ]),
        ]),
        html.Nav(className="admin-tabs", role="tablist", children=[
            html.Button(t(f"admin.tab.{name}", lang), id=f"admin-tab-{name}", role="tab", type="button",
                        className="admin-tab" + (" active" if name == tab else ""), **{"data-tab": name})
            for name in tabs]),
        html.Div(id="admin-message", className="console-message", role="status"),
        html.Main(className="admin-body", children=[
            html.Section(id=f"admin-pane-{name}", className="admin-pane", hidden=name != tab) for name in tabs]),
    ])
