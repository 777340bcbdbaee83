"""Security test 6: login throttled per IP and per account; unknown email and wrong password look
and take the same; signing throttled per user and per IP."""
import re
import statistics
import time

import pytest

import config as settings
from tests.helpers import browser_at, csrf_token, sign
from tests.integration.support import login_as, make_open, make_user


@pytest.fixture
def config(migrated_databases):
    """The real defaults for login; signing limits small enough to reach in a test."""
    config = settings.TestConfig()
    config.SIGN_RATE_LIMIT_USER = "8 per minute"
    config.SIGN_RATE_LIMIT_IP = "12 per minute"
    return config


def _login(client, email, password):
    return client.post("/auth/login", data={"csrf_token": csrf_token(client), "email": email, "password": password})


def test_login_is_throttled_per_ip(app, config):
    per_minute = int(config.LOGIN_RATE_LIMIT_IP.split()[0])
    browser = browser_at(app, "10.1.0.1")
    for n in range(per_minute):  # a different account each time: only the IP limit applies
        assert _login(browser, f"guess{n}@example.com", "wrong password").status_code == 400
    refused = _login(browser, "guess-last@example.com", "wrong password")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert _login(browser_at(app, "10.1.0.2"), "guess0@example.com", "wrong password").status_code == 400


def test_login_is_throttled_per_account_across_ips(app, config):
    make_user(app, "ann@example.com")
    per_minute = int(config.LOGIN_RATE_LIMIT_ACCOUNT.split()[0])
    for n in range(per_minute):
        assert _login(browser_at(app, f"10.2.0.{n + 1}"), "ann@example.com", "wrong password").status_code == 400
    # Even the right password from a fresh address waits: the account is being guessed at.
    assert _login(browser_at(app, "10.2.1.1"), " ANN@example.com ", "correct horse battery").status_code == 429
    assert _login(browser_at(app, "10.2.1.2"), "bob@example.com", "wrong password").status_code == 400


def _normalised(response, email):
    page = response.get_data(as_text=True).replace(email, "EMAIL")
    return response.status_code, re.sub(r'value="[^"]*"', 'value=""', page)


def test_unknown_email_and_wrong_password_answer_alike_in_similar_time(app):
    make_user(app, "known@example.com")
    app.config["LOGIN_RATE_LIMIT_IP"] = app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "10000 per minute"
    browser = browser_at(app, "10.3.0.1")
    token = csrf_token(browser)
    answers, differences = {}, []

    def attempt(kind, email, n):
        wall, cpu = time.perf_counter(), time.thread_time()
        response = browser.post("/auth/login", data={"csrf_token": token, "email": email, "password": f"bad-{n}"})
        answers[kind] = _normalised(response, email)
        return time.perf_counter() - wall, time.thread_time() - cpu

    for n in range(40):
        # Paired and alternating, so the shared machine's load drifts affect both kinds alike.
        pair = [("unknown", f"nobody{n}@example.com"), ("wrong", "known@example.com")]
        timed = {kind: attempt(kind, email, n) for kind, email in (pair if n % 2 else pair[::-1])}
        differences.append([u - w for u, w in zip(timed["unknown"], timed["wrong"])])
    assert answers["unknown"] == answers["wrong"]
    assert answers["wrong"][0] == 400
    wall, cpu = (statistics.median(column) for column in zip(*differences))
    print(f"login timing, median of unknown - wrong over 40 pairs: wall {wall * 1000:+.2f} ms, "
          f"CPU {cpu * 1000:+.2f} ms")
    assert abs(wall) < 0.010, f"median wall-time difference {wall * 1000:.1f} ms"
    assert abs(cpu) < 0.010, f"median CPU-time difference {cpu * 1000:.1f} ms"


def test_signing_is_throttled_per_user(app):
    owner = make_user(app, "owner@example.com")
    petition_id = make_open(app, owner)
    browser = browser_at(app, "10.4.0.1")
    login_as(browser, make_user(app, "signer@example.com"))
    for _ in range(8):
        assert sign(browser, petition_id).status_code == 303
    assert sign(browser, petition_id).status_code == 429
    other = browser_at(app, "10.4.0.1")  # same address, another person: still allowed
    login_as(other, make_user(app, "other@example.com"))
    assert sign(other, petition_id).status_code == 303


def test_signing_is_throttled_per_ip(app):
    owner = make_user(app, "owner@example.com")
    petition_id = make_open(app, owner)
    statuses = []
    for n in range(4):  # four people behind one address, each under their own limit
        browser = browser_at(app, "10.5.0.1")
        login_as(browser, make_user(app, f"signer{n}@example.com"))
        statuses += [sign(browser, petition_id).status_code for _ in range(4)]
    assert statuses[:12] == [303] * 12
    assert statuses[12:] == [429] * 4
    elsewhere = browser_at(app, "10.5.0.2")
    login_as(elsewhere, make_user(app, "elsewhere@example.com"))
    assert sign(elsewhere, petition_id).status_code == 303
