"""The signing fast path under production settings (HTTPS through the proxy, HSTS, Secure
cookies): its answer carries every header Flask's does, and Flask-WTF's same-origin referrer rule
holds for it too."""
import pytest

from tests.helpers import csrf_token, posts_reaching_flask
from tests.integration.support import make_open, make_user

ORIGIN = "https://localhost"


@pytest.fixture
def petition_id(production_app):
    return make_open(production_app, make_user(production_app, "owner@example.com"))


def https_signer(app, email):
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    registered = client.post(
        "/auth/register",
        data={"csrf_token": csrf_token(client, "/auth/register"), "email": email,
              "display_name": "Signer", "password": "correct horse battery"},
        headers={"Referer": f"{ORIGIN}/auth/register"},
    )
    assert registered.status_code == 302
    return client


def post_sign(client, petition_id, referrer=f"{ORIGIN}/", token=None):
    token = token or csrf_token(client, f"/petitions/{petition_id}")
    headers = {"Referer": referrer} if referrer else {}
    return client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token}, headers=headers)


def test_fast_answer_has_flasks_security_headers(production_app, petition_id):
    posts = posts_reaching_flask(production_app)
    by_flask = post_sign(https_signer(production_app, "first@example.com"), petition_id)
    second = https_signer(production_app, "second@example.com")
    token = csrf_token(second, f"/petitions/{petition_id}")
    posts_before = len(posts)
    by_fast_path = post_sign(second, petition_id, token=token)

    assert len(posts) == posts_before
    assert by_fast_path.status_code == by_flask.status_code == 303
    for name in ("Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options",
                 "X-Content-Type-Options", "Referrer-Policy", "Location", "Vary"):
        assert by_fast_path.headers[name] == by_flask.headers[name], name
    assert "Set-Cookie" not in by_fast_path.headers and "Set-Cookie" not in by_flask.headers
    assert production_app.extensions["open_store"].count(petition_id) == 2


@pytest.mark.parametrize("referrer, expected_status", [
    (None, 400),
    ("https://evil.example/petitions/1", 400),
    ("http://localhost/", 400),
    ("https://LOCALHOST/petitions/1", 303),  # the same origin, spelled otherwise: Flask-WTF allows it
    ("https://localhost:443/", 400),  # Flask-WTF compares the port as written
    ("https://localhost.evil.example/", 400),
    ("https://localhost@evil.example/", 400),
])
def test_a_referrer_not_plainly_this_origin_is_flasks_to_judge(production_app, petition_id, referrer, expected_status):
    """Only a referrer starting with https://<host>/ is taken by the fast path; Flask-WTF refuses
    a missing or foreign one and accepts other spellings of this origin."""
    post_sign(https_signer(production_app, "first@example.com"), petition_id)
    posts = posts_reaching_flask(production_app)
    client = https_signer(production_app, "second@example.com")
    token = csrf_token(client, f"/petitions/{petition_id}")
    posts_before = len(posts)

    response = post_sign(client, petition_id, referrer=referrer, token=token)

    assert response.status_code == expected_status
    assert len(posts) == posts_before + 1
    assert production_app.extensions["open_store"].count(petition_id) == (2 if expected_status == 303 else 1)


def test_plain_http_is_sent_to_https_not_signed(production_app, petition_id):
    post_sign(https_signer(production_app, "first@example.com"), petition_id)
    client = https_signer(production_app, "second@example.com")
    token = csrf_token(client, f"/petitions/{petition_id}")
    del client.environ_base["HTTP_X_FORWARDED_PROTO"]

    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})

    assert response.status_code in (301, 302)
    assert response.headers["Location"].startswith("https://")
    assert production_app.extensions["open_store"].count(petition_id) == 1
