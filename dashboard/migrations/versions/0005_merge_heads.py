"""Merge the schema's branches into one head: 0002_governance and 0002_patrol grew beside 0002_briefing's line

Each branch stays as written (their tables are independent of one another); from here on a new revision has one
parent, and tests/unit/test_migrations.py fails when a second head appears.

Revision ID: 0005_merge_heads
Revises: 0005_round2_cap_audit, 0002_governance, 0002_patrol
"""

revision = "0005_merge_heads"
down_revision = ("0005_round2_cap_audit", "0002_governance", "0002_patrol")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
