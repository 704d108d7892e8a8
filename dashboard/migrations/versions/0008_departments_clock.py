"""department list (name, contact, categories it takes) and category.clock (natural | working hours) — issue 27

Urgent categories of an existing catalogue (火情, 人员受伤, 燃气隐患 … the demo's priority-1 ones named below)
count natural hours from the report; everything else keeps counting working hours from the first dispatch.

Revision ID: 0008_departments_clock
Revises: 0007_device_token
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_departments_clock"
down_revision = "0007_device_token"
branch_labels = None
depends_on = None

# copied, not imported (migrations import no live code): the urgent categories of the demo catalogue
URGENT = ("火情", "人员受伤", "燃气隐患", "积水内涝", "管道爆裂", "消防通道堵塞", "可疑人员", "井盖缺失",
          "电动车违规充电", "重点精神障碍患者动态")


def upgrade() -> None:
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("clock", sa.String(length=8), server_default="working", nullable=False))
    category = sa.table("category", sa.column("name", sa.String), sa.column("clock", sa.String))
    op.execute(category.update().where(category.c.name.in_(URGENT)).values(clock="natural"))
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"], name=op.f("fk_department_community_id_community")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("name", name=op.f("uq_department_name")),
    )
    with op.batch_alter_table("department") as batch:
        batch.create_index(batch.f("ix_department_community_id"), ["community_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.drop_index(batch.f("ix_department_community_id"))
    op.drop_table("department")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("clock")
