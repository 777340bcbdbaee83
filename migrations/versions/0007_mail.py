"""The mail job: campaigns (a threshold reached, a response, a close), one delivery per
recipient with its retry state, and the unsubscribed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def _petition_id(table):
    return sa.Column("petition_id", sa.Integer(),
                     sa.ForeignKey("petitions.id", ondelete="CASCADE", name=f"fk_{table}_petition_id_petitions"),
                     nullable=False)


def upgrade_():
    op.create_table(
        "mail_campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        _petition_id("mail_campaigns"),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expanded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mail_campaigns"),
        sa.UniqueConstraint("petition_id", "kind", name="uq_mail_campaigns_petition_kind"),
    )
    op.create_index("ix_mail_campaigns_expanded_at", "mail_campaigns", ["expanded_at"])
    op.create_table(
        "mail_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        _petition_id("mail_deliveries"),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Unicode(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mail_deliveries"),
        sa.UniqueConstraint("petition_id", "kind", "user_id", name="uq_mail_deliveries_petition_kind_user"),
    )
    op.create_index("ix_mail_deliveries_status_due", "mail_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "mail_opt_outs",
        _petition_id("mail_opt_outs"),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", "user_id", name="pk_mail_opt_outs"),
    )


def downgrade_():
    op.drop_table("mail_opt_outs")
    op.drop_index("ix_mail_deliveries_status_due", table_name="mail_deliveries")
    op.drop_table("mail_deliveries")
    op.drop_index("ix_mail_campaigns_expanded_at", table_name="mail_campaigns")
    op.drop_table("mail_campaigns")


def upgrade_users():
    pass


def downgrade_users():
    pass
