"""/m/activity — record a governance activity from the phone (who, what, where, when, how many)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from dash import dcc, html

from dashboard.i18n import t
from dashboard.services.grids import grid_codes, worker_grid_code
from dashboard.services.governance import ACTIVITY_KINDS
from dashboard.timeutil import SHANGHAI
from layouts.access import caller, own_community


class GovFormIds(StrEnum):
    ROOT = "gov-form"
    KIND = "gov-form-kind"
    TITLE = "gov-form-title"
    GRID = "gov-form-grid"
    PLACE = "gov-form-place"
    STARTED = "gov-form-started"
    ENDED = "gov-form-ended"
    PARTICIPANTS = "gov-form-participants"
    VOLUNTEERS = "gov-form-volunteers"
    HOURS = "gov-form-hours"
    ORGANISER = "gov-form-organiser"
    SUBMIT = "gov-form-submit"
    RESULT = "gov-form-result"
    LANG = "gov-form-lang"


def _field(label_key: str, lang: str, control) -> html.Label:
    return html.Label([html.Span(t(label_key, lang)), control], className="gov-field")


def _own_grid(session, services) -> str | None:
    """The grid code of the worker signed in on this phone (None for anyone else)."""
    p = caller(services)
    wid = getattr(p, "worker_id", None)
    if wid is None:
        return None
    return worker_grid_code(session, wid)


def layout(lang: str, query: dict, services):
    """The form; the grid defaults to ``?grid=<code>``, else to the signed-in worker's own grid."""
    with services.db.read() as s:
        grids = grid_codes(s, community_id=own_community(services))
        grid = query.get("grid") if query.get("grid") in {c for c, _ in grids} else _own_grid(s, services)
    now = datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    num = dict(type="number", min=0, step=1, debounce=True, className="gov-input")
    return html.Div(id=GovFormIds.ROOT, className="gov-form", lang=lang, children=[
        html.H1(t("gov.form.title", lang)),
        dcc.Store(id=GovFormIds.LANG, data=lang),
        _field("gov.form.kind", lang, dcc.Dropdown(
            id=GovFormIds.KIND, clearable=False, searchable=False, value="volunteer_service",
            options=[{"label": t(f"gov.kind.{k}", lang), "value": k} for k in ACTIVITY_KINDS])),
        _field("gov.form.subject", lang, dcc.Input(id=GovFormIds.TITLE, type="text", maxLength=128,
                                                   className="gov-input")),
        _field("gov.form.grid", lang, dcc.Dropdown(id=GovFormIds.GRID, value=grid, clearable=False,
                                                   options=[{"label": n, "value": c} for c, n in grids],
                                                   labels={"search": t("gov.form.search", lang),
                                                           "clear_search": t("gov.form.clear_search", lang),
                                                           "no_options_found": t("gov.form.no_grid_found", lang)})),
        _field("gov.form.place", lang, dcc.Input(id=GovFormIds.PLACE, type="text", maxLength=128,
                                                 className="gov-input")),
        _field("gov.form.started", lang, dcc.Input(id=GovFormIds.STARTED, type="datetime-local", value=now,
                                                   className="gov-input")),
        _field("gov.form.ended", lang, dcc.Input(id=GovFormIds.ENDED, type="datetime-local", className="gov-input")),
        _field("gov.form.participants", lang, dcc.Input(id=GovFormIds.PARTICIPANTS, value=0, **num)),
        _field("gov.form.volunteers", lang, dcc.Input(id=GovFormIds.VOLUNTEERS, value=0, **num)),
        _field("gov.form.hours", lang, dcc.Input(id=GovFormIds.HOURS, value=0, type="number", min=0, step=0.5,
                                                 className="gov-input")),
        _field("gov.form.organiser", lang, dcc.Input(id=GovFormIds.ORGANISER, type="text", maxLength=128,
                                                     className="gov-input")),
        html.Button(t("gov.form.submit", lang), id=GovFormIds.SUBMIT, className="gov-submit", n_clicks=0),
        html.Div(id=GovFormIds.RESULT, className="gov-result", role="status"),
        html.A(t("gov.form.back", lang), href=f"/m?lang={lang}", className="gov-link"),
    ])
