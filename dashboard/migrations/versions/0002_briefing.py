"""indexes for the briefing's day queries

Revision ID: 0002_briefing
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_briefing"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_file_closed_at", "case_file", ["closed_at"])
    op.create_index("ix_case_file_open_due", "case_file", ["sla_due_at"],
                    sqlite_where=sa.text("closed_at IS NULL"), postgresql_where=sa.text("closed_at IS NULL"))
    op.create_index("ix_position_fix_time", "position", ["fix_time", "grid_id", "worker_id"])
    op.create_index("ix_case_log_at", "case_log", ["at"])


def downgrade() -> None:
    for name, table in (("ix_case_log_at", "case_log"), ("ix_position_fix_time", "position"),
                        ("ix_case_file_open_due", "case_file"), ("ix_case_file_closed_at", "case_file")):
        op.drop_index(name, table_name=table)
