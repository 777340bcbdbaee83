"""Fixtures for the security tests: generous limits unless a test is about limits, and an app
built from ProductionConfig (HSTS, Secure cookies, HTTPS only) on the test databases."""
import pytest

from app.extensions import db
from app.factory import create_app
from config import ProductionConfig, TestConfig

PRODUCTION_SECRET = "security-tests-production-secret-0123456789"
GENEROUS = "10000 per minute"


@pytest.fixture
def config(migrated_databases):
    """Security tests log in many times; the limits themselves are tested in test_throttling."""
    config = TestConfig()
    config.LOGIN_RATE_LIMIT_IP = config.LOGIN_RATE_LIMIT_ACCOUNT = GENEROUS
    config.SIGN_RATE_LIMIT_IP = config.SIGN_RATE_LIMIT_USER = GENEROUS
    return config


@pytest.fixture
def production_app(app, monkeypatch):
    """Production settings on the databases the `app` fixture has just cleaned."""
    test = TestConfig()
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.setenv("REDIS_URL", test.REDIS_URL)
    monkeypatch.setenv("DATABASE_URL", test.SQLALCHEMY_DATABASE_URI)
    monkeypatch.setenv("USERS_DATABASE_URL", test.SQLALCHEMY_BINDS["users"])
    monkeypatch.setenv("REBUILD_REDIS_ON_START", "0")
    production = create_app(ProductionConfig())
    yield production
    with production.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    production.extensions["redis"].connection_pool.disconnect()


@pytest.fixture
def https_client(production_app):
    """A browser reaching production through its TLS proxy (ProxyFix trusts one hop). Production's
    CSRF check also wants a same-origin Referer on HTTPS, which tests pass where they post."""
    client = production_app.test_client()
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    return client
