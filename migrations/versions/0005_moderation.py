"""Moderation: moderators, reports of petitions, take-downs, the audit log, and official
responses to petitions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_REPORTS = sa.text("resolved_at IS NULL")


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("taken_down_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("takedown_reason", sa.UnicodeText(), nullable=True))
    op.create_table(
        "petition_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("petition_id", sa.Integer(),
                  sa.ForeignKey("petitions.id", ondelete="CASCADE",
                                name="fk_petition_reports_petition_id_petitions"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("details", sa.UnicodeText(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_petition_reports"),
    )
    op.create_index("ix_petition_reports_petition_id", "petition_reports", ["petition_id"])
    op.create_index("uq_petition_reports_open", "petition_reports", ["petition_id", "user_id"], unique=True,
                    postgresql_where=OPEN_REPORTS, sqlite_where=OPEN_REPORTS, mssql_where=OPEN_REPORTS)
    op.create_table(
        "moderation_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("moderator_name", sa.Unicode(60), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.UnicodeText(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_moderation_log"),
    )
    op.create_index("ix_moderation_log_created_at", "moderation_log", ["created_at"])
    op.create_index("ix_moderation_log_petition_id", "moderation_log", ["petition_id"])
    op.create_table(
        "petition_responses",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.UnicodeText(), nullable=False),
        sa.Column("responded_on", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=False),
        sa.Column("moderator_name", sa.Unicode(60), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", name="pk_petition_responses"),
        sa.ForeignKeyConstraint(["petition_id"], ["petitions.id"], ondelete="CASCADE",
                                name="fk_petition_responses_petition_id_petitions"),
    )


def downgrade_():
    op.drop_table("petition_responses")
    op.drop_table("moderation_log")
    op.drop_table("petition_reports")
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("takedown_reason")
        batch.drop_column("taken_down_at")


def upgrade_users():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_moderator", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade_users():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_moderator")
