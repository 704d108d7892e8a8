"""/call — video dispatch on its own page: pick a worker (and a case) and call; ``?worker_id=N`` is that
worker's answering side (what /m shows), for a desk test; ``?role=worker`` answers for whoever is signed in."""
from __future__ import annotations

from dash import dcc, html
from sqlalchemy import select

from dashboard.i18n import t
from dashboard.masking import mask_name
from dashboard.models import Worker

from .call_widget import call_widget


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    wid = query.get("worker_id")
    head = html.Header(className="gc-callpage-head", children=[
        html.H1(t("call.page", lang)),
        html.A(t("lang.switch", lang), href=f"/call?lang={other}" + (f"&worker_id={wid}" if wid else "")),
    ])
    if query.get("role") == "worker":  # whoever is signed in on this browser answers (as on /m)
        return html.Div(className="gc-callpage gc-callpage--worker", children=[
            head, call_widget(lang, role="worker", autostart=True)])
    if wid and wid.isdigit():
        with services.db.read() as s:
            w = s.get(Worker, int(wid))
        if w is None:
            return html.Div([head, html.P(f"worker {wid}?")], className="gc-callpage")
        return html.Div(className="gc-callpage gc-callpage--worker", children=[
            head, html.P(f"{t('call.worker', lang)}：{w.code} {mask_name(w.name)}", id="call-page-worker"),
            call_widget(lang, role="worker", worker_id=w.id, autostart=True)])
    with services.db.read() as s:
        workers = s.execute(select(Worker.id, Worker.code, Worker.name).where(Worker.active.is_(True))
                            .order_by(Worker.code)).all()
    return html.Div(className="gc-callpage", children=[
        head,
        html.Div(className="gc-callpage-form", children=[
            html.Label(t("call.worker", lang)),
            html.Select(id="call-page-worker-select", children=[
                html.Option(f"{w.code} {mask_name(w.name)}", value=str(w.id)) for w in workers]),
            html.Label(t("call.case", lang)),
            dcc.Input(id="call-page-case", type="text", inputMode="numeric", style={"width": "8em"}),
            html.Button(t("call.button", lang), id="call-page-start", className="gc-call-btn",
                        **{"data-worker-from": "call-page-worker-select", "data-case-from": "call-page-case"}),
        ]),
        call_widget(lang, role="console", autostart=True),
    ])
