"""Fixtures for the security tests: generous limits unless a test is about limits, and a client
of the production app (tests/conftest.py) behind its TLS proxy."""
import pytest

from config import TestConfig

GENEROUS = "10000 per minute"


@pytest.fixture
def config(migrated_databases):
    """Security tests log in many times; the limits themselves are tested in test_throttling."""
    config = TestConfig()
    config.LOGIN_RATE_LIMIT_IP = config.LOGIN_RATE_LIMIT_ACCOUNT = GENEROUS
    config.SIGN_RATE_LIMIT_IP = config.SIGN_RATE_LIMIT_USER = GENEROUS
    return config


@pytest.fixture
def https_client(production_app):
    """A browser reaching production through its TLS proxy (ProxyFix trusts one hop). Production's
    CSRF check also wants a same-origin Referer on HTTPS, which tests pass where they post."""
    client = production_app.test_client()
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    return client
