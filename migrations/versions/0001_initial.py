"""Initial schema: petitions and signatures; users in their own database.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    op.create_table(
        "petitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("owner_name", sa.Unicode(60), nullable=False),
        sa.Column("title", sa.Unicode(120), nullable=False),
        sa.Column("body", sa.UnicodeText(), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signature_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_petitions"),
    )
    op.create_index("ix_petitions_owner_id", "petitions", ["owner_id"])
    op.create_index("ix_petitions_state_closes_at", "petitions", ["state", "closes_at"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signatures"),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petitions.id"], name="fk_signatures_petition_id_petitions", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("petition_id", "user_id", name="uq_signatures_petition_user"),
    )


def downgrade_():
    op.drop_table("signatures")
    op.drop_index("ix_petitions_state_closes_at", table_name="petitions")
    op.drop_index("ix_petitions_owner_id", table_name="petitions")
    op.drop_table("petitions")


def upgrade_users():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.Unicode(254), nullable=False),
        sa.Column("display_name", sa.Unicode(60), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("session_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )


def downgrade_users():
    op.drop_table("users")
