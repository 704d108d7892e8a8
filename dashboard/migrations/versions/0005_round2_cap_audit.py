"""CAP sender ownership (cap_sender); audit rows name an API-key actor's key id and the actor's community

Revision ID: 0005_round2_cap_audit
Revises: 0004_briefing_cache
"""
import sqlalchemy as sa
from alembic import op


revision = "0005_round2_cap_audit"
down_revision = "0004_briefing_cache"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cap_sender",
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_cap_sender")),
    )
    op.add_column("audit_log", sa.Column("api_key_id", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("community_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_audit_log_community_id"), "audit_log", ["community_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_community_id"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as b:
        b.drop_column("community_id")
        b.drop_column("api_key_id")
    op.drop_table("cap_sender")
