"""alert.subject, repeat_count, last_at, text_key, text_params and the unique index on open (kind, subject) —
one open alert per rule and subject; alert texts as i18n templates (issue 27 item 1)

Revision ID: 0009_alert_subject
Revises: 0008_departments_clock
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_alert_subject"
down_revision = "0008_departments_clock"
branch_labels = None
depends_on = None

WHERE = sa.text("subject IS NOT NULL AND state <> 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("repeat_count", sa.Integer(), nullable=False, server_default=sa.text("1")))
        batch.add_column(sa.Column("last_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("text_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("text_params", sa.JSON(), nullable=True))
    op.create_index("ux_alert_open_subject", "alert", ["kind", "subject"], unique=True, sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ux_alert_open_subject", table_name="alert")
    with op.batch_alter_table("alert") as batch:
        for col in ("text_params", "text_key", "last_at", "repeat_count", "subject"):
            batch.drop_column(col)
