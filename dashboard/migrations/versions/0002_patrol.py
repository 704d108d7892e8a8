"""mouse patrol tours and stop log; video calls

Revision ID: 0002_patrol
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_patrol"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrol_tour",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("current", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_tour")),
    )
    op.create_table(
        "patrol_stop_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tour_id", sa.Integer(), nullable=True),
        sa.Column("stop_index", sa.Integer(), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["tour_id"], ["patrol_tour.id"], name=op.f("fk_patrol_stop_log_tour_id_patrol_tour"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_patrol_stop_log_grid_id_grid")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_patrol_stop_log_case_id_case_file")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_stop_log")),
    )
    op.create_index("ix_patrol_stop_log_day_grid", "patrol_stop_log", ["day", "grid_id"])
    op.create_index(op.f("ix_patrol_stop_log_tour_id"), "patrol_stop_log", ["tour_id"])
    op.create_table(
        "video_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("caller_sid", sa.String(length=64), nullable=True),
        sa.Column("callee_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["worker_id"], ["worker.id"], name=op.f("fk_video_call_worker_id_worker")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_video_call_case_id_case_file")),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], name=op.f("fk_video_call_alert_id_alert")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_call")),
    )
    op.create_index(op.f("ix_video_call_worker_id"), "video_call", ["worker_id"])
    op.create_index(op.f("ix_video_call_case_id"), "video_call", ["case_id"])


def downgrade() -> None:
    op.drop_table("video_call")
    op.drop_index("ix_patrol_stop_log_day_grid", table_name="patrol_stop_log")
    op.drop_table("patrol_stop_log")
    op.drop_table("patrol_tour")
