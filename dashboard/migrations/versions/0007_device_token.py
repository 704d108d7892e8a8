"""worker.device_token_hash: an optional per-device secret for OsmAnd/Traccar fixes (issue 25 item 2)

Revision ID: 0007_device_token
Revises: 0006_session_gen
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_device_token"
down_revision = "0006_session_gen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("worker") as batch:
        batch.add_column(sa.Column("device_token_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("device_token_hash")
