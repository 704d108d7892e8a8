"""The video-call widget (视频调度) a page includes once, and the 视频通话 buttons that start calls.

``call_widget(lang, role="console")`` on the console: any ``call_button(...)`` on the page
(worker row, case, alert) starts a call. ``call_widget(lang, role="worker", worker_id=…)``
on the worker's /m page: it joins the worker's room and rings on an incoming call.
assets/71-call.js does the WebRTC work; signalling rides the page's GCLive socket.
"""
from __future__ import annotations

import json

from dash import html

from dashboard.i18n import t, texts_for

ROLES = ("console", "worker")


def call_button(lang: str, worker_id: int, *, case_id: int | None = None, alert_id: int | None = None,
                label: str | None = None, class_name: str = "") -> html.Button:
    """A 视频通话 button; a click calls ``worker_id`` (about a case or an alert, if given)."""
    data = {"data-worker-id": str(worker_id)}
    if case_id is not None:
        data["data-case-id"] = str(case_id)
    if alert_id is not None:
        data["data-alert-id"] = str(alert_id)
    return html.Button(label or t("call.button", lang), className=f"gc-call-btn {class_name}".strip(), **data)


def call_widget(lang: str, *, role: str = "console", worker_id: int | None = None, autostart: bool = False,
                id_prefix: str = "gc-call") -> html.Div:
    """The call panel (hidden while idle): status, remote and local video, answer/decline/mute/hang up.

    A worker widget without ``worker_id`` follows the page's sign-in (``/auth/me``), as on /m.
    ``autostart`` makes the script start GCLive itself (for pages that do not start it).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    attrs = {"data-role": role, "data-state": "idle", "data-autostart": "1" if autostart else "0",
             "data-texts": json.dumps(texts_for(lang, "call."), ensure_ascii=False)}
    if worker_id is not None:
        attrs["data-worker-id"] = str(worker_id)
    b = lambda key, cls: html.Button(t(key, lang), className=f"gc-call-action {cls}", **{"data-action": cls})
    return html.Div(id=id_prefix, className=f"gc-call gc-call--{role}", **attrs, children=[
        html.Div(className="gc-call-head", children=[
            html.Span(t("call.title", lang), className="gc-call-title"),
            html.Span(t("call.state.idle", lang), className="gc-call-status", **{"data-role": "status"}),
            html.Span("", className="gc-call-timer", **{"data-role": "timer"}),
        ]),
        html.Div("", className="gc-call-peer", **{"data-role": "peer"}),
        html.Div(className="gc-call-videos", children=[
            html.Video(className="gc-call-remote", autoPlay=True, **{"data-role": "remote"}),
            html.Video(className="gc-call-local", autoPlay=True, muted=True, **{"data-role": "local"}),
        ]),
        html.Div(className="gc-call-actions", children=[
            b("call.answer", "answer"), b("call.decline", "decline"), b("call.mute", "mute"),
            b("call.hangup", "hangup"), b("call.close", "close"),
        ]),
    ])
