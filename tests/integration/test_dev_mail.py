"""/dev/mail: make run's mailbox. Present only with DEV_MAIL_VIEWER (development); the test and
production apps have no such route."""
import pytest

from config.settings import TestConfig as BaseTestConfig
from tests.helpers import register


@pytest.fixture
def config(migrated_databases):
    config = BaseTestConfig()
    config.DEV_MAIL_VIEWER = True
    return config


def test_the_inbox_lists_what_was_sent_and_a_message_shows_its_link(app, client):
    register(client, "sam@example.com", "<b>Sam</b>", confirm=False)
    assert 'read it here' in client.get("/auth/account").get_data(as_text=True)  # pages point to it
    inbox = client.get("/dev/mail").get_data(as_text=True)
    assert "sam@example.com" in inbox and "Confirm your email address" in inbox
    name = inbox.split('href="/dev/mail/', 1)[1].split('"', 1)[0]
    message = client.get(f"/dev/mail/{name}").get_data(as_text=True)
    assert '<a href="https://petitions.test/auth/confirm/' in message
    assert "Hello &lt;b&gt;Sam&lt;/b&gt;" in message  # the body is text: autoescaped


@pytest.mark.parametrize("name", ["nope.eml", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "x.txt"])
def test_anything_but_a_stored_message_is_404(app, client, name):
    assert client.get(f"/dev/mail/{name}").status_code == 404


def test_production_has_no_mail_viewer(production_app):
    assert not any(rule.rule.startswith("/dev/") for rule in production_app.url_map.iter_rules())
    assert production_app.test_client().get("/dev/mail", base_url="https://petitions.example").status_code == 404
