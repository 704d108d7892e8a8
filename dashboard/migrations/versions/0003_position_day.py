"""per-day worker x grid rollup of GPS fixes (briefing coverage and activity), back-filled

Revision ID: 0003_position_day
Revises: 0002_briefing
"""
from alembic import op
import sqlalchemy as sa
import dashboard.db


revision = "0003_position_day"
down_revision = "0002_briefing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "position_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("fixes", sa.Integer(), nullable=False),
        sa.Column("first_at", dashboard.db.UTCDateTime(), nullable=False),
        sa.Column("last_at", dashboard.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "worker_id", "grid_id", name=op.f("pk_position_day")),
    )
    from dashboard.services.position_day import backfill_sql

    op.execute(sa.text(backfill_sql(op.get_bind().dialect.name)))  # existing fixes, once


def downgrade() -> None:
    op.drop_table("position_day")
