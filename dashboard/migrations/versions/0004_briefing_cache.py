"""index case_file.updated_at: the briefing cache's "has any case changed" check reads max() through it

Revision ID: 0004_briefing_cache
Revises: 0003_position_day
"""
from alembic import op


revision = "0004_briefing_cache"
down_revision = "0003_position_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_file_updated_at", "case_file", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_case_file_updated_at", table_name="case_file")
