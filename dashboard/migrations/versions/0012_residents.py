"""residents: resident tickets (tracking, call-back phone, satisfaction), grid notices with read counts, the
notification outbox with every delivery attempt, and workers' visits (issue 31)

Revision ID: 0012_residents
Revises: 0011_governance_target
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0012_residents"
down_revision = "0011_governance_target"
branch_labels = None
depends_on = None

# the two 自治 targets of issue 31, copied from services/governance_indicators.py as it stood at this revision
TARGETS = {"visits_per_100_households_month": 2.0, "resident_satisfaction_share": 90.0}


def upgrade() -> None:
    op.create_table(
        "resident_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("tracking_code", sa.String(length=16), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("resident_category", sa.String(length=24), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("satisfaction", sa.String(length=12), nullable=True),
        sa.Column("satisfaction_comment", sa.Text(), nullable=False),
        sa.Column("satisfaction_at", sa.DateTime(), nullable=True),
        sa.Column("reworked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_resident_ticket_case_id_case_file"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"],
                                name=op.f("fk_resident_ticket_community_id_community")),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_resident_ticket_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_ticket")),
        sa.UniqueConstraint("case_id", name=op.f("uq_resident_ticket_case_id")),
        sa.UniqueConstraint("token", name=op.f("uq_resident_ticket_token")),
        sa.UniqueConstraint("tracking_code", name=op.f("uq_resident_ticket_tracking_code")),
    )
    op.create_index(op.f("ix_resident_ticket_grid_id"), "resident_ticket", ["grid_id"])
    op.create_index(op.f("ix_resident_ticket_community_id"), "resident_ticket", ["community_id"])
    op.create_index(op.f("ix_resident_ticket_address_hash"), "resident_ticket", ["address_hash"])
    op.create_index(op.f("ix_resident_ticket_created_at"), "resident_ticket", ["created_at"])

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("grid_ids", sa.JSON(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("picture_path", sa.String(length=256), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("author_worker_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["author_worker_id"], ["worker.id"], name=op.f("fk_notice_author_worker_id_worker")),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"], name=op.f("fk_notice_community_id_community")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notice_idempotency_key")),
    )
    op.create_index("ix_notice_scope_created", "notice", ["scope", "created_at"])
    op.create_index(op.f("ix_notice_community_id"), "notice", ["community_id"])
    op.create_index(op.f("ix_notice_valid_until"), "notice", ["valid_until"])
    op.create_index(op.f("ix_notice_created_at"), "notice", ["created_at"])

    op.create_table(
        "notice_read",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("last_read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_notice_read_grid_id_grid")),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name=op.f("fk_notice_read_notice_id_notice"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id", "grid_id", name=op.f("pk_notice_read")),
    )

    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
    )
    op.create_index("ix_notify_outbox_state_next", "notify_outbox", ["state", "next_attempt_at"])

    op.create_table(
        "notify_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["notify_outbox.id"],
                                name=op.f("fk_notify_attempt_outbox_id_notify_outbox"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_attempt")),
    )
    op.create_index(op.f("ix_notify_attempt_outbox_id"), "notify_attempt", ["outbox_id"])

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("whom", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=128), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("opinions", sa.Text(), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=False),
        sa.Column("follow_up_case_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"], name=op.f("fk_visit_community_id_community")),
        sa.ForeignKeyConstraint(["follow_up_case_id"], ["case_file.id"],
                                name=op.f("fk_visit_follow_up_case_id_case_file")),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_visit_grid_id_grid")),
        sa.ForeignKeyConstraint(["worker_id"], ["worker.id"], name=op.f("fk_visit_worker_id_worker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    op.create_index("ix_visit_grid_at", "visit", ["grid_id", "at"])
    op.create_index(op.f("ix_visit_worker_id"), "visit", ["worker_id"])
    op.create_index(op.f("ix_visit_community_id"), "visit", ["community_id"])
    op.create_index(op.f("ix_visit_at"), "visit", ["at"])

    # the grid worker's public service number for the residents' call button (Worker.phone is personal)
    with op.batch_alter_table("worker") as batch:
        batch.add_column(sa.Column("service_phone", sa.String(length=32), nullable=True))

    target = sa.table("governance_target", sa.column("key", sa.String), sa.column("target", sa.Double),
                      sa.column("updated_at", sa.DateTime), sa.column("updated_by", sa.String))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(target, [{"key": k, "target": v, "updated_at": now, "updated_by": "default"}
                            for k, v in TARGETS.items()])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM governance_target WHERE key IN ('visits_per_100_households_month', "
                       "'resident_satisfaction_share')"))
    for table in ("visit", "notify_attempt", "notify_outbox", "notice_read", "notice", "resident_ticket"):
        op.drop_table(table)
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("service_phone")
