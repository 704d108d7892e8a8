"""Indexes the briefing's day queries need (closed in a day, overdue at a cut-off, fixes of a day, steps of a day)."""
from __future__ import annotations

from sqlalchemy import Index

from .cases import Case, CaseLog
from .people import Position

Index("ix_case_file_closed_at", Case.closed_at)
# open cases by deadline: "overdue now" reads only the open tail, not the whole history
Index("ix_case_file_open_due", Case.sla_due_at, sqlite_where=Case.closed_at.is_(None),
      postgresql_where=Case.closed_at.is_(None))
# covers the coverage/activity group-by of one day's fixes (index-only on PostgreSQL)
Index("ix_position_fix_time", Position.fix_time, Position.grid_id, Position.worker_id)
Index("ix_case_log_at", CaseLog.at)
# the briefing cache asks max(updated_at): "has any case changed since?"
Index("ix_case_file_updated_at", Case.updated_at)
