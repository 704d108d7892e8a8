"""网格+五治: the /m/activity form (server callback → the domain service) and the panel refresh."""
from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import select

from dashboard.i18n import error_code, error_text, t
from dashboard.models import Grid
from dashboard.services.governance import ActivityProblem, create_activity
from layouts.access import allowed, own_community
from layouts.governance_form import GovFormIds as F
from layouts.governance_panel import GovIds, bars_figure, cached_panel, only_community


def register(app, services) -> None:
    @app.callback(Output(F.RESULT, "children"), Output(F.RESULT, "className"), Output(F.TITLE, "value"),
                  Input(F.SUBMIT, "n_clicks"),
                  State(F.KIND, "value"), State(F.TITLE, "value"), State(F.GRID, "value"), State(F.PLACE, "value"),
                  State(F.STARTED, "value"), State(F.ENDED, "value"), State(F.PARTICIPANTS, "value"),
                  State(F.VOLUNTEERS, "value"), State(F.HOURS, "value"), State(F.ORGANISER, "value"),
                  State(F.LANG, "data"), prevent_initial_call=True)
    def submit_activity(n, kind, title, grid, place, started, ended, participants, volunteers, hours, organiser,
                        lang):
        if not n:
            return no_update, no_update, no_update
        p = allowed(services, "worker", "dispatcher", "integration")
        if p is None:  # anonymous (demo off) or a read-only role: nothing is written
            return t("page.callback_denied", lang), "gov-result gov-result-error", no_update
        if p.community_id is not None and grid:
            with services.db.read() as s:
                comm = s.scalar(select(Grid.community_id).where(Grid.code == str(grid).strip()))
            if comm is not None and comm != p.community_id:
                return (t("gov.form.error", lang, field=t("gov.form.grid", lang),
                          message=error_text("forbidden", None, lang)),
                        "gov-result gov-result-error", no_update)
        data = {"kind": kind, "title": title, "grid_code": grid, "place_name": place, "started_at": started,
                "ended_at": ended, "participants": participants, "volunteers": volunteers,
                "volunteer_hours": hours, "organiser": organiser}
        try:
            with services.db.write() as s:
                code = create_activity(s, data, source="app", created_by=p.name).code
        except ActivityProblem as p:
            return (t("gov.form.error", lang, field=t(_FIELD_KEYS.get(p.field, "gov.form.error.field"), lang),
                      message=error_text(error_code(400, p.message), None, lang)),
                    "gov-result gov-result-error", no_update)
        return t("gov.form.ok", lang, code=code), "gov-result gov-result-ok", ""

    @app.callback(Output(GovIds.GRAPH, "figure"), Input(GovIds.REFRESH, "data"), State(GovIds.LANG, "data"),
                  State(GovIds.GRAPH, "figure"), prevent_initial_call=True)
    def refresh_panel(_tick, lang, current):
        if allowed(services, "dispatcher", "leader", "display", "worker") is None:
            raise PreventUpdate
        data = only_community(cached_panel(services, lang), own_community(services))
        layout = (current or {}).get("layout", {})
        return bars_figure(data, width=layout.get("width", 428), height=layout.get("height", 300),
                           dark=layout.get("font", {}).get("color") != "#334155")


_FIELD_KEYS = {"kind": "gov.form.kind", "title": "gov.form.subject", "grid_code": "gov.form.grid",
               "started_at": "gov.form.started", "ended_at": "gov.form.ended",
               "participants": "gov.form.participants", "volunteers": "gov.form.volunteers",
               "volunteer_hours": "gov.form.hours"}
