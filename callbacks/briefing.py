"""/briefing: the day's figures on a day/scope change (server); the replay runs in the browser (clientside)."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from dash import ClientsideFunction, Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard.i18n import t
from dashboard.services.briefing import briefing
from dashboard.services import audit
from dashboard.timeutil import local_today
from layouts.access import allowed
from layouts.briefing import Ids, render_content


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else local_today()
    except ValueError:
        return local_today()


def record_replay(services, p, day: date, community_id: int | None) -> None:
    """The page's replay on the audit log, as ``GET /api/v1/replay`` is (a day's tracks of every worker)."""
    from flask import request

    with services.db.write() as s:
        audit.record(s, p, "replay_view", f"replay:{day.isoformat()}",
                     {"via": "page", "community": community_id}, request.remote_addr)


def register(app, services) -> None:
    @app.callback(Output(Ids.CONTENT, "children"), Output(Ids.REPLAY_DATA, "data"), Output(Ids.JUMP, "options"),
                  Output(Ids.PDF, "href"), Output(Ids.XLSX, "href"), Output(Ids.CSV, "href"),
                  Input(Ids.DAY, "value"), Input(Ids.SCOPE, "value"), State(Ids.LANG, "data"))
    def show_day(day_value, scope, lang):
        p = allowed(services, "dispatcher", "leader")
        if p is None:
            raise PreventUpdate
        day = _day(day_value)
        cid = int(scope) if scope and str(scope).isdigit() else None
        if p.community_id is not None:  # a community's leader sees its own community, whatever the picker says
            cid = p.community_id
        with services.db.read() as s:
            b = briefing(s, day=day, community_id=cid, calendar=services.calendar)
        r = services.replays.get(services.db.read, day=day, community_id=cid)
        record_replay(services, p, day, cid)
        q = {"day": day.isoformat(), "lang": lang or "zh-CN", **({"community": cid} if cid else {})}
        links = [f"/api/v1/briefing/export.{f}?{urlencode(q)}" for f in ("pdf", "xlsx", "csv")]
        options = [{"label": f"{m // 60:02d}:{m % 60:02d} {t('brief.replay.ev.' + kind, lang)} {code} {label or ''}",
                    "value": f"{i}:{m}"} for i, (m, kind, code, label, _) in enumerate(r["events"][:500])]
        return [*render_content(b, lang, services)], r, options, *links

    # the map's live layers are restyled in place by the same function (assets/60-briefing.js)
    app.clientside_callback(ClientsideFunction("gcBrief", "draw"), Output(Ids.CLOCK, "children"),
                            Output(Ids.COUNTS, "children"), Input(Ids.SLIDER, "value"),
                            Input(Ids.REPLAY_DATA, "data"), State(Ids.LANG, "data"))
    app.clientside_callback(ClientsideFunction("gcBrief", "jump"), Output(Ids.SLIDER, "value"),
                            Input(Ids.JUMP, "value"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("gcBrief", "play"), Output(Ids.PLAY, "children"),
                            Input(Ids.PLAY, "n_clicks"), Input(Ids.SPEED, "value"), State(Ids.SLIDER, "value"))
