"""Closing reports and owner notifications (petitions database).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    op.create_table(
        "reports",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("final_count", sa.Integer(), nullable=False),
        sa.Column("first_signature_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_signature_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("per_day", sa.JSON(), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name="pk_reports"),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petitions.id"], name="fk_reports_petition_id_petitions", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.Unicode(200), nullable=False),
        sa.Column("body", sa.UnicodeText(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petitions.id"], name="fk_notifications_petition_id_petitions", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("petition_id", "kind", name="uq_notifications_petition_kind"),
    )


def downgrade_():
    op.drop_table("notifications")
    op.drop_table("reports")


def upgrade_users():
    pass  # nothing changes in the users database


def downgrade_users():
    pass
