"""Fraud controls: where each signature came from, the signer's email opt-ins, and moderators'
invalidations of signatures.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Only removed signatures are indexed by their invalidation: the index stays as small as they are
# few, and a new signature (never removed) costs it nothing.
REMOVED = sa.text("invalidation_id IS NOT NULL")


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    op.create_table(
        "signature_invalidations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("petition_id", sa.Integer(),
                  sa.ForeignKey("petitions.id", ondelete="CASCADE",
                                name="fk_signature_invalidations_petition_id_petitions"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.Unicode(254), nullable=False),
        sa.Column("signed_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.UnicodeText(), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=False),
        sa.Column("moderator_name", sa.Unicode(60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_count", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signature_invalidations"),
    )
    op.create_index("ix_signature_invalidations_petition_id", "signature_invalidations", ["petition_id"])
    # Nullable columns and constant defaults: PostgreSQL adds them without rewriting the table.
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("ip_prefix", sa.String(43), nullable=True))
        batch.add_column(sa.Column("email_domain", sa.Unicode(254), nullable=True))
        batch.add_column(sa.Column("notify_response", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("notify_close", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("invalidation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_signatures_invalidation_id_signature_invalidations",
                                 "signature_invalidations", ["invalidation_id"], ["id"])
    op.create_index("ix_signatures_invalidation_id", "signatures", ["invalidation_id"],
                    postgresql_where=REMOVED, sqlite_where=REMOVED, mssql_where=REMOVED)
    with op.batch_alter_table("petitions") as batch:
        batch.add_column(sa.Column("removed_signatures", sa.Integer(), nullable=False, server_default="0"))


def downgrade_():
    with op.batch_alter_table("petitions") as batch:
        batch.drop_column("removed_signatures")
    op.drop_index("ix_signatures_invalidation_id", table_name="signatures")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint("fk_signatures_invalidation_id_signature_invalidations", type_="foreignkey")
        for column in ("invalidation_id", "notify_close", "notify_response", "email_domain", "ip_prefix"):
            batch.drop_column(column)
    op.drop_index("ix_signature_invalidations_petition_id", table_name="signature_invalidations")
    op.drop_table("signature_invalidations")


def upgrade_users():
    pass


def downgrade_users():
    pass
