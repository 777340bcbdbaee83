"""Shared fixtures: a fresh app per test on the real PostgreSQL and Redis on localhost.

Databases come from TEST_DATABASE_URL / TEST_USERS_DATABASE_URL / TEST_REDIS_URL (see
config.TestConfig). They are created if missing and migrated once per run; every test starts
from empty tables and an empty Redis database.
"""
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from app.web.extensions import db
from app.web.factory import create_app
from bench.services import reset_schema
from deploy.stack import ensure_database
from config import ProductionConfig, TestConfig


PRODUCTION_SECRET = "tests-production-secret-key-0123456789abcdef"


class Clock:
    """A settable clock for services: tests move time instead of sleeping."""

    def __init__(self, now=None):
        self.now = now or datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def test_config_class():
    return TestConfig


@pytest.fixture(scope="session")
def migrated_databases():
    """Creates the test databases if needed and runs every migration on a clean schema."""
    config = TestConfig()
    for url in (config.SQLALCHEMY_DATABASE_URI, config.SQLALCHEMY_BINDS["users"]):
        ensure_database(url)
    app = create_app(config)
    with app.app_context():
        for engine in db.engines.values():
            reset_schema(engine)
        upgrade()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return config


def _clean(app):
    with app.app_context():
        for bind, engine in db.engines.items():
            with engine.begin() as conn:
                tables = [
                    t for t in conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    ).scalars()
                    if t != "alembic_version"
                ]
                if tables:
                    conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    app.extensions["redis"].flushdb()


@pytest.fixture
def config(migrated_databases):
    return TestConfig()


@pytest.fixture
def app(config):
    app = create_app(config)
    _clean(app)
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    app.extensions["redis"].connection_pool.disconnect()
    app.extensions["user_cache"].redis.connection_pool.disconnect()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis_client(app):
    return app.extensions["redis"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def production_app(app, monkeypatch):
    """ProductionConfig (HSTS, Secure cookies, HTTPS only) on the databases the `app` fixture has
    just cleaned."""
    test = TestConfig()
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.setenv("REDIS_URL", test.REDIS_URL)
    monkeypatch.setenv("DATABASE_URL", test.SQLALCHEMY_DATABASE_URI)
    monkeypatch.setenv("USERS_DATABASE_URL", test.SQLALCHEMY_BINDS["users"])
    monkeypatch.setenv("REBUILD_REDIS_ON_START", "0")
    monkeypatch.setenv("MAIL_DIR", app.config["MAIL_DIR"])
    monkeypatch.setenv("SITE_ORIGIN", "https://petitions.example")
    production = create_app(ProductionConfig())
    yield production
    with production.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    production.extensions["redis"].connection_pool.disconnect()
