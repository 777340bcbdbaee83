"""An in-process production app pointed at the bench's servers, and schema resets."""
import os
import shutil
from contextlib import contextmanager

from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import text

from app.web.extensions import db
from app.web.factory import create_app
from bench.services import DatabaseBusy, app_env, reset_schema
from deploy.stack import ensure_database
from config import load_config


@contextmanager
def bench_app(redis_url, database_url, users_database_url, reset=True):
    """Sets the production environment for this process (child processes inherit it), builds
    the app, and with `reset` drops and re-migrates both bench databases."""
    env = app_env(redis_url, database_url, users_database_url)
    os.environ.update(env)
    for url in (database_url, users_database_url):
        ensure_database(url)
    app = create_app(load_config("production"))
    with app.app_context():
        if reset:
            try:
                for engine in db.engines.values():
                    reset_schema(engine)
            except DatabaseBusy as exc:
                raise SystemExit(f"python -m bench: {exc}") from None
            upgrade()
        try:
            yield app, env
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
            app.extensions["redis"].connection_pool.disconnect()
            shutil.rmtree(env["MAIL_DIR"], ignore_errors=True)


def truncate_all():
    """Empties both bench databases and the bench Redis between scenario groups."""
    db.session.remove()  # its open transaction would hold a lock TRUNCATE waits for
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE signatures, petitions RESTART IDENTITY CASCADE"))
    with db.engines["users"].begin() as conn:
        conn.execute(text("TRUNCATE users RESTART IDENTITY CASCADE"))
    current_app.extensions["redis"].flushdb()  # the suite's own redis-server
