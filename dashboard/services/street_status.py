"""The start page's counts: what is running, in the caller's jurisdiction."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..events import last_seq
from ..models import Case, CaseState, Grid, Position, Worker
from ..models.enums import DutyState
from ..timeutil import local_day_bounds, local_today


def status_counts(session: Session, *, community_id: int | None, day: date | None = None) -> list[tuple[str, int]]:
    """(i18n key, count) rows for the start page: grids, workers, on duty, cases of ``day`` (default today), open
    cases, position fixes of ``day`` and the live stream's last sequence number. ``community_id`` (None = the whole
    street) limits every count to that community's grids, workers and cases."""
    start, end = local_day_bounds(day or local_today())
    open_states = [s.value for s in CaseState if s.is_open]

    def count(q: Select) -> int:
        return int(session.scalar(q) or 0)

    grids = select(func.count()).select_from(Grid)
    workers = select(func.count()).select_from(Worker)
    cases = select(func.count()).select_from(Case)
    fixes = select(func.count()).select_from(Position).where(Position.fix_time >= start, Position.fix_time < end)
    if community_id is not None:
        own_grids = select(Grid.id).where(Grid.community_id == community_id)
        grids = grids.where(Grid.community_id == community_id)
        workers = workers.where(Worker.grid_id.in_(own_grids))
        cases = cases.where(Case.community_id == community_id)
        fixes = fixes.where(Position.worker_id.in_(select(Worker.id).where(Worker.grid_id.in_(own_grids))))
    return [
        ("home.grids", count(grids)),
        ("home.workers", count(workers)),
        ("home.on_duty", count(workers.where(Worker.duty_state != DutyState.OFFLINE))),
        ("home.cases_today", count(cases.where(Case.created_at >= start, Case.created_at < end))),
        ("home.open_cases", count(cases.where(Case.state.in_(open_states)))),
        ("home.fixes_today", count(fixes)),
        ("home.last_seq", last_seq(session)),
    ]
