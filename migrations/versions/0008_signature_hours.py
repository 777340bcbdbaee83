"""Signatures over time: valid signatures per petition per UTC hour, filled from the
signatures already stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The start of a signature's UTC hour, per engine (timestamps are stored in UTC).
HOUR_OF_SIGNED_AT = {
    "postgresql": "date_trunc('hour', signed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', signed_at)",
    "mssql": "DATEADD(hour, DATEDIFF(hour, 0, signed_at), 0)",
}


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    op.create_table(
        "signature_hours",
        sa.Column("petition_id", sa.Integer(),
                  sa.ForeignKey("petitions.id", ondelete="CASCADE", name="fk_signature_hours_petition_id_petitions"),
                  nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signatures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", "hour", name="pk_signature_hours"),
    )
    hour = HOUR_OF_SIGNED_AT[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO signature_hours (petition_id, hour, signatures)"
        f" SELECT petition_id, {hour}, count(*) FROM signatures WHERE invalidation_id IS NULL"
        f" GROUP BY petition_id, {hour}"
    )


def downgrade_():
    op.drop_table("signature_hours")


def upgrade_users():
    pass


def downgrade_users():
    pass
