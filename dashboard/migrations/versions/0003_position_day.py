"""per-day worker x grid rollup of GPS fixes (briefing coverage and activity), back-filled

Revision ID: 0003_position_day
Revises: 0002_briefing
"""
from alembic import op
import sqlalchemy as sa


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
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "worker_id", "grid_id", name=op.f("pk_position_day")),
    )
    op.execute(sa.text(_backfill_sql(op.get_bind().dialect.name)))  # existing fixes, once


# Copied from dashboard/services/position_day.py as it stood at this revision: a migration must keep doing
# what it did when it was written, whatever the live code becomes.
_NO_GRID = 0  # grid_id of fixes outside every grid (the key cannot hold NULL)
_DAY_SQL = {"postgresql": "CAST(fix_time + INTERVAL '8 hours' AS DATE)", "sqlite": "date(fix_time, '+8 hours')"}


def _backfill_sql(dialect: str) -> str:
    """INSERT … SELECT that rolls every stored fix up into position_day (day = the Asia/Shanghai date)."""
    day = _DAY_SQL.get(dialect, _DAY_SQL["postgresql"])
    return (f"INSERT INTO position_day (day, worker_id, grid_id, fixes, first_at, last_at) "
            f"SELECT {day}, worker_id, COALESCE(grid_id, {_NO_GRID}), count(*), min(fix_time), max(fix_time) "
            f"FROM position GROUP BY 1, 2, 3")


def downgrade() -> None:
    op.drop_table("position_day")
