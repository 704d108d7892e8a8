"""Sign-in for people at a desk (dispatchers, leaders, admins); /m has its own for workers."""
from __future__ import annotations

from dash import dcc, html

from dashboard.principal import safe_next_path
from dashboard.i18n import t


def safe_next(value: str | None) -> str:
    """Only a path on this server may follow a sign-in (no open redirect: ``/\\host``, ``//host`` … go to "/")."""
    return safe_next_path(value)


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(className="gc-login", children=[
        html.H1(t("app.title", lang)),
        html.Form(id="gc-login-form", **{"data-next": safe_next(query.get("next"))}, children=[
            html.Label([t("login.username", lang), dcc.Input(id="gc-login-username", name="username",
                                                               autoComplete="username", required=True)]),
            html.Label([t("login.password", lang), dcc.Input(id="gc-login-password", name="password",
                                                               type="password", autoComplete="current-password",
                                                               required=True)]),
            html.Button(t("login.submit", lang), id="gc-login-submit", type="submit"),
            html.Div(id="gc-login-error", className="gc-login-error", role="alert",
                     **{"data-wrong": t("login.wrong", lang), "data-change": t("login.must_change", lang)}),
        ]),
        html.A(t("lang.switch", lang), href=f"/login?lang={other}", className="gc-lang"),
    ])
