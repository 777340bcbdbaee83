"""Fixtures the fast-path API tests share; a test module imports the ones it uses."""
import pytest

from tests.integration.support import make_open, make_user


@pytest.fixture
def flask_calls(app):
    """One entry per request that reached Flask (the fast paths answer before it)."""
    calls = []
    app.before_request(lambda: calls.append(1))
    return calls


@pytest.fixture
def owner(app):
    return make_user(app, "owner@example.com", "Olive Owner")


@pytest.fixture
def opened(app, owner):
    return make_open(app, owner, "Protect the village green", days=60)
