"""People most integration tests need: a petition owner, and a moderator signed in through the
login form. A module that needs someone else defines its own fixture of the same name."""
import pytest

from tests.helpers import login
from tests.integration.support import make_user


@pytest.fixture
def owner(app):
    return make_user(app, "owner@example.com", "Olive Owner")


@pytest.fixture
def moderator(app):
    user = make_user(app, "mo@example.com", "Mo Moderator")
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["users", "grant-moderator", "mo@example.com"]).exit_code == 0
    return user


@pytest.fixture
def mod_client(app, moderator):
    client = app.test_client()
    login(client, "mo@example.com")
    return client
