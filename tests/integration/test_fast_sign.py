"""The signing form's fast path in front of Flask: a plainly valid signature from a signed-in user
is answered without Flask, exactly as Flask answers it; every other form post reaches Flask and
gets Flask's answer, and no attempt is counted twice against the rate limits."""
from datetime import datetime, timezone

import flask_login.utils
import pytest
from flask import request

from app.blueprints.public.fast_sign import login_identifier
from app.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import OpenPetitionStore
from app.repositories.redis_client import make_redis
from app.repositories.users_sql import UserRepository
import config as settings
from tests.helpers import csrf_token, login, logout, posts_reaching_flask, register
from tests.integration.support import close_now, make_open, make_user


@pytest.fixture
def config(migrated_databases):
    config = settings.TestConfig()
    config.SIGN_RATE_LIMIT_USER = "3 per minute"
    return config


@pytest.fixture
def sign_posts(app):
    return posts_reaching_flask(app)


@pytest.fixture
def petition_id(app):
    return make_open(app, make_user(app, "owner@example.com"))


@pytest.fixture
def fast_signer(app, petition_id):
    """A second signer, signed in, with the petition page's CSRF token, after Flask has answered
    a first signature (so the fast path holds Flask's headers and takes this signer's posts)."""
    post_sign(signer(app, "first@example.com"), petition_id)
    client = signer(app, "second@example.com")
    return client, csrf_token(client, f"/petitions/{petition_id}")


def signer(app, email, user_agent="browser"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    register(client, email=email)
    return client


def post_sign(client, petition_id, token=None, **data):
    token = token or csrf_token(client, f"/petitions/{petition_id}")
    return client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token, **data})


def landing_text(client, answer):
    """The page the signing answer's redirect lands on, as the signer sees it."""
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def user_id_of(app, email):
    with app.app_context():
        return UserRepository(db.session).by_email(email).id


def attempts_counted(app, email):
    """The signing attempts the per-user limit has counted for this user."""
    return int(app.extensions["redis"].get(keys.sign_rate("user", user_id_of(app, email))))


def count(app, petition_id):
    return app.extensions["open_store"].count(petition_id)


@pytest.mark.parametrize(
    "headers, address",
    [
        ({"User-Agent": "Mozilla/5.0 (X11)"}, "10.0.0.1"),
        ({}, "10.0.0.2"),
        ({"User-Agent": "caf\u00e9", "X-Forwarded-For": " 203.0.113.9 , 10.0.0.1"}, "10.0.0.3"),
    ],
)
def test_login_identifier_is_flask_logins(app, headers, address):
    with app.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": address}):
        assert login_identifier(request.environ) == flask_login.utils._create_identifier()


def test_after_flasks_first_answer_signatures_are_answered_alike_without_flask(app, petition_id, sign_posts):
    first, second = signer(app, "first@example.com"), signer(app, "second@example.com")
    by_flask = post_sign(first, petition_id)
    assert sign_posts[-1] == f"/petitions/{petition_id}/sign"
    posts_before = len(sign_posts)

    by_fast_path = post_sign(second, petition_id)

    assert len(sign_posts) == posts_before  # Flask never saw it
    assert by_fast_path.status_code == by_flask.status_code == 303
    assert by_fast_path.get_data() == by_flask.get_data()
    assert sorted(by_fast_path.headers.items()) == sorted(by_flask.headers.items())
    assert "Set-Cookie" not in by_fast_path.headers  # the session is left as it was
    assert by_fast_path.headers["Location"] == f"/petitions/{petition_id}?signed=new"
    assert "Thank you for signing. This petition now has 2 signatures." in landing_text(second, by_fast_path)
    third_signer = signer(app, "third@example.com")
    posts_before = len(sign_posts)
    third = post_sign(third_signer, petition_id)  # answered with the answer built for the second
    assert len(sign_posts) == posts_before
    assert (third.status_code, sorted(third.headers.items()), third.get_data()) == (
        303, sorted(by_fast_path.headers.items()), by_fast_path.get_data())
    assert count(app, petition_id) == 3
    outbox = app.extensions["redis"].xrange(keys.OUTBOX)
    assert [fields[b"u"] for _, fields in outbox][-2:] == [
        str(user_id_of(app, email)).encode() for email in ("second@example.com", "third@example.com")]


def test_a_second_signature_by_the_fast_path_is_refused_kindly(app, petition_id, sign_posts):
    post_sign(signer(app, "first@example.com"), petition_id)
    again = signer(app, "again@example.com")
    assert post_sign(again, petition_id).status_code == 303
    posts_before = len(sign_posts)
    answer = post_sign(again, petition_id)
    assert answer.status_code == 303
    assert len(sign_posts) == posts_before
    assert "You have already signed this petition" in landing_text(again, answer)
    assert count(app, petition_id) == 2
    assert app.extensions["redis"].xlen(keys.OUTBOX) == 2


@pytest.mark.parametrize("case", ["only the session cookie and the token", "another cookie", "another form field"])
def test_the_quick_and_the_general_parsers_read_the_same_signer(app, petition_id, sign_posts, fast_signer, case):
    """A Cookie header of only the session and a form of only the token skip the general parsers;
    with anything more the general ones read the same signer, still without Flask."""
    client, token = fast_signer
    data = {"csrf_token": token}
    if case == "another cookie":
        client.set_cookie("theme", "dark")
    elif case == "another form field":
        data["note"] = "from the petition page"
    posts_before = len(sign_posts)

    response = client.post(f"/petitions/{petition_id}/sign", data=data)

    assert (response.status_code, len(sign_posts)) == (303, posts_before)
    assert response.headers["Location"] == f"/petitions/{petition_id}?signed=new"
    assert count(app, petition_id) == 2


@pytest.mark.parametrize(
    "case, expected_status, signs",
    [
        ("no CSRF token", 400, False),
        ("another session's CSRF token", 400, False),
        ("a NUL in the form", 400, False),
        ("a tampered session cookie", 400, False),
        ("a query string", 303, True),
        ("another user agent than at login", 303, True),
    ],
)
def test_anything_unusual_is_left_to_flask(app, petition_id, sign_posts, fast_signer, case, expected_status, signs):
    client, token = fast_signer
    path, data = f"/petitions/{petition_id}/sign", {"csrf_token": token}
    if case == "no CSRF token":
        data = {}
    elif case == "another session's CSRF token":
        data["csrf_token"] = csrf_token(app.test_client())
    elif case == "a NUL in the form":
        data["note"] = "a\x00b"
    elif case == "a tampered session cookie":
        signed, _, signature = client.get_cookie("session").value.rpartition(".")
        # the signature's first character: its last carries padding bits a change may not touch
        client.set_cookie("session", f"{signed}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}")
    elif case == "a query string":
        path += "?from=email"
    elif case == "another user agent than at login":
        client.environ_base["HTTP_USER_AGENT"] = "another browser"
    posts_before = len(sign_posts)

    response = client.post(path, data=data)

    assert len(sign_posts) == posts_before + 1
    assert response.status_code == expected_status
    assert count(app, petition_id) == (2 if signs else 1)


def test_a_logged_out_cookie_signs_nothing(app, petition_id, fast_signer):
    client, token = fast_signer
    old_cookie = client.get_cookie("session").value
    logout(client)
    elsewhere = app.test_client()
    elsewhere.environ_base["HTTP_USER_AGENT"] = "browser"
    login(elsewhere, "second@example.com")  # a new session token, and a card holding it
    client.set_cookie("session", old_cookie)

    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert count(app, petition_id) == 1


def test_rate_limit_refusals_are_flasks_and_counted_once(app, petition_id, fast_signer):
    client, _ = fast_signer
    statuses = [post_sign(client, petition_id).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    refused = post_sign(client, petition_id)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert attempts_counted(app, "second@example.com") == 5


def test_closed_and_unknown_petitions_get_flasks_answers(app, petition_id, fast_signer):
    client, token = fast_signer
    assert post_sign(client, 99999, token=token).status_code == 404
    close_now(app, petition_id, datetime.now(timezone.utc), 1)
    closed = post_sign(client, petition_id, token=token)
    assert closed.status_code == 409
    assert attempts_counted(app, "second@example.com") == 2


def test_a_store_outage_on_the_fast_path_is_a_503_not_recorded(app, petition_id, fast_signer):
    client, token = fast_signer
    fast_sign = app.extensions["fast_sign"]
    fast_sign.store = OpenPetitionStore(make_redis("redis://127.0.0.1:9/0", 0.2))  # nothing listens

    response = post_sign(client, petition_id, token=token)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "safe to try again" in response.get_data(as_text=True)
    assert count(app, petition_id) == 1
