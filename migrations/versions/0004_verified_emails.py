"""Verified signers: each account's mailbox (unique), when its email was confirmed, an address
change awaiting confirmation, and the version that makes each confirmation link single-use.

Accounts made before this revision keep their address as their mailbox (lower case, as they
were stored) and start unconfirmed: they confirm through "send the link again".

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    pass


def downgrade_():
    pass


def upgrade_users():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("mailbox", sa.Unicode(254), nullable=True))
        batch.add_column(sa.Column("email_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pending_email", sa.Unicode(254), nullable=True))
        batch.add_column(sa.Column("email_link_version", sa.Integer(), nullable=False, server_default="0"))
    op.execute(sa.text("UPDATE users SET mailbox = email"))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("mailbox", existing_type=sa.Unicode(254), nullable=False)
        batch.create_unique_constraint("uq_users_mailbox", ["mailbox"])


def downgrade_users():
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_mailbox", type_="unique")
        batch.drop_column("email_link_version")
        batch.drop_column("pending_email")
        batch.drop_column("email_confirmed_at")
        batch.drop_column("mailbox")
