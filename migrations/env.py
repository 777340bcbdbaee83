"""Alembic environment for two databases: petitions (default bind) and users.

Each database keeps its own alembic_version table. A revision has one upgrade/downgrade function
per bind: upgrade_() for petitions and upgrade_users() for users.
"""
import logging

from alembic import context
from flask import current_app

from app.repositories.models import METADATA_BY_BIND

log = logging.getLogger("alembic.env")


def bind_name(bind):
    return bind or ""


def run_migrations_offline():
    raise SystemExit("offline (--sql) migrations are not supported; run against the databases")


def run_migrations_online():
    db = current_app.extensions["migrate"].db
    for bind, metadata in METADATA_BY_BIND.items():
        engine = db.engines[bind]
        log.info("migrating database %r", bind_name(bind) or "petitions")
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                upgrade_token=f"{bind_name(bind)}_upgrades",
                downgrade_token=f"{bind_name(bind)}_downgrades",
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations(engine_name=bind_name(bind))
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
