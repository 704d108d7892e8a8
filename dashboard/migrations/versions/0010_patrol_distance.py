"""position_day.distance_m (metres walked, jitter filtered) and position_walk (each worker's walk state at ingest)
for the briefing's patrol mileage (issue 29 item 2)

Revision ID: 0010_patrol_distance
Revises: 0009_alert_subject

Existing rows start at 0 m: ``services.position_day.backfill(session, first_day, last_day)`` walks the stored
fixes of those days again if their mileage is wanted.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_patrol_distance"
down_revision = "0009_alert_subject"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("position_day") as batch:
        batch.add_column(sa.Column("distance_m", sa.Float(), nullable=False, server_default="0"))
    op.create_table(
        "position_walk",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=False),
        sa.Column("anchor_lat", sa.Float(), nullable=False),
        sa.Column("anchor_lon", sa.Float(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("pending_at", sa.DateTime(), nullable=True),
        sa.Column("pending_lat", sa.Float(), nullable=True),
        sa.Column("pending_lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_position_walk")),
    )


def downgrade() -> None:
    op.drop_table("position_walk")
    with op.batch_alter_table("position_day") as batch:
        batch.drop_column("distance_m")
