"""Early close requests: petitions.close_requested_at, carried out by the next close sweep.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("close_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade_():
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("close_requested_at")


def upgrade_users():
    pass


def downgrade_users():
    pass
