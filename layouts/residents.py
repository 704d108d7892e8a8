"""/r — the residents' page (phone, no account), opened from a compound's QR code: ``/r?g=<grid code>.<check>``.

Top to bottom: the grid and its worker (masked name, a call button), the grid's notices (``#r-notices``, filled by
the notices script), "我要反映" (category, description, up to 3 photos shrunk on the phone, location from the phone
or the map's cross-hair, an optional call-back number), and after a report its tracking code and link. A tracking
link (``/r?t=<token>``) shows the report's steps in plain words, the center's reply and after-photo, and after
closure the resident's verdict. assets/41-residents.js does the work against /api/v1/r/… ; the map is /m's
(a Plotly MapLibre figure with a fixed cross-hair; the pan goes through callbacks/residents.py to the script).
"""
from __future__ import annotations

import json
from enum import StrEnum

from dash import dcc, html

from dashboard.i18n import t, texts_for
from dashboard.services import residents as svc
from layouts.map_style import projector
from layouts.mobile import location_map


class ResidentIds(StrEnum):
    ROOT = "r-root"
    NOTICES = "r-notices"  # the grid's notices: the notices script (engineer B's) renders into it
    MAP = "r-map"
    MAP_SINK = "r-map-sink"


def _field(label: str, *children, cls: str = "") -> html.Label:
    return html.Label(className=f"r-field {cls}".strip(), children=[html.Span(label, className="r-label"), *children])


def _lang_link(lang: str, query: dict) -> str:
    other = "en" if lang == "zh-CN" else "zh-CN"
    keep = "".join(f"&{k}={query[k]}" for k in ("g", "t") if query.get(k) and len(query[k]) <= 80
                   and query[k].replace(".", "").replace("_", "").replace("-", "").isalnum())
    return f"/r?lang={other}{keep}"


def _report_form(lang: str, figure) -> html.Section:
    T = lambda k: t(k, lang)  # noqa: E731
    return html.Section(id="r-report", className="r-card", children=[
        html.H2(T("r.report.title")),
        html.Div(id="r-cats", className="r-cats", role="radiogroup", **{"aria-label": T("r.report.category")}),
        _field(T("r.report.description"), dcc.Textarea(id="r-desc", className="r-input", rows=3, maxLength=1000,
                                                       placeholder=T("r.report.description_ph"))),
        _field(T("r.report.photos"), html.Div(id="r-photo-slot", className="r-file", **{"data-input": "r-photo"}),
               html.Div(id="r-photo-preview", className="r-thumbs")),
        html.Span(T("r.report.location"), className="r-label"),
        html.P(T("r.report.location_hint"), className="r-hint"),
        html.Div(className="r-mapbox", children=[
            dcc.Graph(id=ResidentIds.MAP, figure=figure, className="r-map",
                      config={"displayModeBar": False, "scrollZoom": True}),
            html.Div(className="r-crosshair")]),
        html.Div(className="r-row r-loc", children=[
            html.Span(T("r.report.no_location"), id="r-loc-text", className="r-loc-text"),
            html.Button(T("r.report.locate"), id="r-locate", type="button", className="r-btn r-small")]),
        _field(T("r.report.phone"), dcc.Input(id="r-phone", type="tel", className="r-input", maxLength=20,
                                               autoComplete="tel", placeholder=T("r.report.phone_ph"))),
        html.Div(id="r-challenge", className="r-challenge", hidden=True, children=[
            _field("", dcc.Input(id="r-challenge-answer", type="text", inputMode="numeric", className="r-input",
                                 maxLength=8, autoComplete="off"))]),
        html.Button(T("r.report.submit"), id="r-submit", type="button", className="r-btn r-primary r-wide"),
    ])


def _tracking(lang: str) -> html.Section:
    T = lambda k: t(k, lang)  # noqa: E731
    return html.Section(id="r-track", className="r-card", hidden=True, children=[
        html.H2(T("r.track.title")),
        html.P(id="r-track-code", className="r-code"),
        html.Ol(id="r-steps", className="r-steps"),
        html.Div(id="r-reply", className="r-reply", hidden=True),
        html.Div(id="r-after", className="r-thumbs"),
        html.Div(id="r-rate", className="r-rate", hidden=True, children=[
            html.H3(T("r.rate.title")),
            html.Div(className="r-row r-rate-options", role="radiogroup", children=[
                html.Button(T(f"r.rate.{v}"), type="button", className="r-btn r-rate-btn", **{"data-value": v})
                for v in ("satisfied", "basic", "unsatisfied")]),
            _field(T("r.rate.comment"), dcc.Textarea(id="r-rate-comment", className="r-input", rows=2,
                                                     maxLength=500, placeholder=T("r.rate.comment_ph"))),
            html.Button(T("r.rate.submit"), id="r-rate-submit", type="button", className="r-btn r-primary")]),
        html.P(id="r-rated", className="r-rated", hidden=True),
        html.A(T("r.track.new_report"), id="r-new-report", className="r-link", hidden=True),
    ])


def layout(lang: str, query: dict, services):
    code = svc.grid_code_of(_secret(), query.get("g"))
    token = (query.get("t") or "").strip()[:80]
    with services.db.read() as s:
        grid = svc.grid_page(s, code, lang) if code else None
        fig = location_map(s, services.settings)
    if grid is not None:  # the QR code's grid outlined and centred: the resident starts where she stands
        proj = projector(services.settings)
        ring = grid.boundary["coordinates"][0] if grid.boundary["type"] == "Polygon" \
            else grid.boundary["coordinates"][0][0]
        ring = proj.ring(ring)
        fig.data[1].update(lon=[p[0] for p in ring], lat=[p[1] for p in ring])
        cy, cx = (float(v) for v in proj(*grid.centroid))
        fig.update_layout(map={"center": {"lat": cy, "lon": cx}, "zoom": 17})
    T = lambda k: t(k, lang)  # noqa: E731
    cats = [{"key": k, "label": t(f"r.cat.{k}", lang)} for k in svc.RESIDENT_CATEGORIES]
    head = [html.B(T("r.title")), html.Span(grid.name if grid else "", id="r-grid-name", className="r-sub")]
    grid_card = html.Section(id="r-grid", className="r-card r-grid-card", hidden=grid is None, children=[
        html.Div(className="r-grid-line", children=[
            html.Span(T("r.grid.label"), className="r-label"),
            html.B(grid.name if grid else "")]),
        html.Div(className="r-grid-line", children=[
            html.Span(T("r.grid.worker"), className="r-label"),
            html.Span(grid.worker or T("r.grid.no_worker") if grid else "", id="r-worker"),
            html.Span(grid.worker_phone or "" if grid else "", id="r-worker-phone", className="r-masked")]),
        # the worker's public service number, else the center's duty line: the label says whose number it dials
        html.Button("☎ " + T("r.grid.call" if grid and grid.worker_phone else "r.grid.call_center"), id="r-call",
                    type="button", className="r-btn r-ok",
                    hidden=not (grid and (grid.worker_phone or svc.center_number(services.settings)))),
    ])
    return html.Div(id=ResidentIds.ROOT, className="r-page", lang=lang, **{
        "data-lang": lang, "data-g": query.get("g", "") if grid else "", "data-grid-id": str(grid.grid_id) if grid
        else "", "data-token": token, "data-texts": json.dumps(texts_for(lang, "r."), ensure_ascii=False),
        "data-categories": json.dumps(cats, ensure_ascii=False)}, children=[
        html.Header(className="r-header", children=[
            html.Div(head), html.A(t("lang.switch", lang), href=_lang_link(lang, query), className="r-lang")]),
        html.Div(id="r-toast", className="r-toast", role="status", **{"aria-live": "polite"}),
        html.P(T("r.bad_link"), id="r-bad-link", className="r-card r-bad-link", hidden=grid is not None or bool(token)),
        grid_card,
        html.Div(id=ResidentIds.NOTICES, className="r-notices"),
        html.Div(id="r-report-box", hidden=grid is None or bool(token), children=[_report_form(lang, fig)]),
        html.Section(id="r-done", className="r-card r-done", hidden=True, children=[
            html.H2(T("r.done.title")), html.P(id="r-done-code", className="r-code"),
            html.P(T("r.done.keep"), className="r-hint"),
            html.A(T("r.done.follow"), id="r-done-link", className="r-btn r-primary r-wide")]),
        _tracking(lang),
        html.Div(id=ResidentIds.MAP_SINK, hidden=True),
    ])


def _secret() -> str:
    """The server's signing key (the QR links' checks are made with it; a layout runs inside a request)."""
    from flask import current_app

    return current_app.config["SECRET_KEY"]
