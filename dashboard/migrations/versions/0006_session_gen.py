"""user_account.session_gen: a user's session generation; logout, password change and role changes move it on,
ending every earlier session (issue 25 item 5).

Revision ID: 0006_session_gen
Revises: 0005_merge_heads
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_session_gen"
down_revision = "0005_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_account", sa.Column("session_gen", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("session_gen")
