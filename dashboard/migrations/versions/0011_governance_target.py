"""governance_target: the street's target for each 五治 indicator, with the defaults from the demo's model —
scores are measured against them, not against the best community (issue 29 item 5)

Revision ID: 0011_governance_target
Revises: 0010_patrol_distance
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0011_governance_target"
down_revision = "0010_patrol_distance"
branch_labels = None
depends_on = None

# Copied from services/governance_indicators.py as it stood at this revision (a migration keeps doing what it did)
DEFAULTS = {"party_per_100_households": 5.0, "party_posts": 2.0, "party_activities_month": 0.3,
            "legal_staff_per_grid": 0.4, "legal_visits_month": 0.25, "virtue_activities_month": 0.8,
            "volunteer_hours_month": 20.0, "council_meetings_month": 0.2, "self_governance_share": 10.0,
            "sensed_grid_share": 80.0, "device_uptime": 95.0, "app_reports_per_worker": 0.5,
            "app_active_share": 90.0}


def upgrade() -> None:
    table = op.create_table(
        "governance_target",
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("target", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_governance_target")),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(table, [{"key": k, "target": v, "updated_at": now, "updated_by": "default"}
                           for k, v in DEFAULTS.items()])


def downgrade() -> None:
    op.drop_table("governance_target")
