"""Registration is throttled per IP and per email domain (the big free-mail providers exempt from
the domain limit), and confirmation mail per account: a count cannot be padded with accounts
made in bulk."""
import pytest

import config as settings
from tests.helpers import DEFAULT_PASSWORD, browser_at, post_form


@pytest.fixture
def config(migrated_databases):
    config = settings.TestConfig()
    config.REGISTER_RATE_LIMIT_IP = "3 per hour"
    config.REGISTER_RATE_LIMIT_DOMAIN = "2 per hour"
    return config


def _register(app, ip, email):
    return post_form(browser_at(app, ip), "/auth/register",
                     {"email": email, "display_name": "Someone", "password": DEFAULT_PASSWORD})


def test_registration_is_throttled_per_ip(app):
    for n in range(3):  # each at its own domain: only the IP limit applies
        assert _register(app, "10.2.0.1", f"person@domain{n}.example").status_code == 302
    refused = _register(app, "10.2.0.1", "person@domain9.example")
    assert refused.status_code == 429 and "wait an hour" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "3600"  # the hourly limit's window, not a minute
    assert _register(app, "10.2.0.2", "person@domain9.example").status_code == 302  # another address is not


def test_registration_is_throttled_per_email_domain_across_ips(app):
    for n in range(2):
        assert _register(app, f"10.3.0.{n}", f"person{n}@bulk.example").status_code == 302
    assert _register(app, "10.3.0.9", "person9@BULK.example").status_code == 429
    assert _register(app, "10.3.0.9", "person9@other.example").status_code == 302


def test_big_free_mail_domains_are_not_throttled_as_a_domain(app):
    for n in range(4):
        assert _register(app, f"10.4.0.{n}", f"person{n}@gmail.com").status_code == 302
