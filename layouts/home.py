"""The start page: what is running and where the screens are."""
from __future__ import annotations

from dash import html
from sqlalchemy import func, select

from dashboard.i18n import t
from dashboard.models import Case, CaseState, Grid, Position, Worker
from dashboard.models.enums import DutyState
from dashboard.events import last_seq
from dashboard.timeutil import local_day_bounds, local_today

from .access import caller
from .ids import Home

LINKS = [("/wall", "nav.wall"), ("/console", "nav.console"), ("/briefing", "nav.briefing"),
         ("/m", "nav.mobile"), ("/governance", "gov.title"), ("/login", "nav.login"), ("/patrol", "patrol.title"), ("/call", "call.page")]


def status_rows(services) -> list[tuple[str, int]]:
    """Counts for the status table (one query each, all cheap)."""
    start, end = local_day_bounds(local_today())
    open_states = [s.value for s in CaseState if s.is_open]
    with services.db.read() as s:
        return [
            ("home.grids", s.scalar(select(func.count()).select_from(Grid))),
            ("home.workers", s.scalar(select(func.count()).select_from(Worker))),
            ("home.on_duty", s.scalar(select(func.count()).select_from(Worker).where(
                Worker.duty_state != DutyState.OFFLINE))),
            ("home.cases_today", s.scalar(select(func.count()).select_from(Case).where(
                Case.created_at >= start, Case.created_at < end))),
            ("home.open_cases", s.scalar(select(func.count()).select_from(Case).where(Case.state.in_(open_states)))),
            ("home.fixes_today", s.scalar(select(func.count()).select_from(Position).where(
                Position.fix_time >= start, Position.fix_time < end))),
            ("home.last_seq", last_seq(s)),
        ]


def layout(lang: str, query: dict, services):
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(className="gc-home", children=[
        html.Header([
            html.H1(t("app.title", lang)),
            html.Span(t("app.street", lang), className="gc-sub"),
            html.A(t("lang.switch", lang), href=f"/?lang={other}", className="gc-lang"),
        ]),
        html.Nav([html.A(t(key, lang), href=f"{path}?lang={lang}", className="gc-nav-link") for path, key in LINKS]),
        *_status(lang, services),
    ])


def _status(lang: str, services) -> list:
    """The street's counts, for anyone signed in (an anonymous visitor sees the links only)."""
    if caller(services) is None:
        return []
    return [html.H2(t("home.status", lang)),
            html.Table(id=Home.STATUS, className="gc-status", children=[
                html.Tr([html.Th(t(k, lang)), html.Td(f"{v:,}")]) for k, v in status_rows(services)])]
