"""/password — a user on a one-time or reset password sets their own before any other page opens."""
from __future__ import annotations

from dash import dcc, html

from dashboard.principal import safe_next_path
from dashboard.i18n import t
from dashboard.services.users import MIN_PASSWORD

# the strength rules shown as the user types (the server's check_password_strength says the same)
RULES = ("pw.rule.length", "pw.rule.digits", "pw.rule.variety", "pw.rule.new", "pw.rule.match")


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    nxt = safe_next_path(query.get("next"))
    nxt = "/" if nxt.startswith("/password") else nxt

    def field(key: str, id_: str, auto: str):
        return html.Label([t(key, lang), dcc.Input(id=id_, type="password", autoComplete=auto, required=True)])

    return html.Div(className="gc-login gc-password", children=[
        html.H1(t("pw.title", lang)),
        html.P(t("pw.why", lang), className="gc-password-why"),
        html.Form(id="gc-password-form", **{"data-next": nxt, "data-lang": lang, "data-min": str(MIN_PASSWORD)},
                  children=[
            field("pw.old", "gc-password-old", "current-password"),
            field("pw.new", "gc-password-new", "new-password"),
            field("pw.repeat", "gc-password-repeat", "new-password"),
            html.Ul(id="gc-password-rules", className="gc-password-rules", children=[
                html.Li(t(key, lang, n=MIN_PASSWORD), **{"data-rule": key.rsplit(".", 1)[1]}, className="bad")
                for key in RULES]),
            html.Button(t("pw.submit", lang), id="gc-password-submit", type="submit"),
            html.Div(id="gc-password-error", className="gc-login-error", role="alert",
                     **{"data-old": t("pw.err.old", lang), "data-weak": t("pw.err.weak", lang),
                        "data-failed": t("pw.err.failed", lang)}),
        ]),
        html.A(t("lang.switch", lang), href=f"/password?lang={other}&next={nxt}", className="gc-lang"),
    ])
