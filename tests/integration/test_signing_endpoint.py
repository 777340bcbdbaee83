"""POST /api/petitions/<id>/signatures: every answer of its contract, through the app's own WSGI
stack (the endpoint mounted beside Flask) on the real Redis and PostgreSQL."""
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.repositories import redis_keys as keys
from app.repositories.outbox import Outbox
from app.services.sign_limits import SignLimits
from app.services.signing_tokens import SigningTokens
from app.web import wiring
from tests.helpers import login
from tests.integration.support import close_now, make_draft, make_open, make_user

TOKEN_RE = re.compile(r'data-sign-token="([^"]+)"')
SIGN_URL_RE = re.compile(r'data-sign-url="([^"]+)"')


@pytest.fixture
def owner(app):
    return make_user(app, "owner@example.com", "Olive Owner")


@pytest.fixture
def petition(app, owner):
    petition_id = make_open(app, owner)
    app.extensions["open_store"].mark_ready("complete")  # what start-up leaves (REBUILD_REDIS_ON_START)
    return petition_id


def tokens(app, clock=None):
    return SigningTokens(app.config["SIGNING_TOKEN_SECRET"], **({"clock": clock} if clock else {}))


def sign(client, petition_id, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/api/petitions/{petition_id}/signatures", headers=headers, **kwargs)


def error_code(response):
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == response.status_code and error["message"]
    return error["code"]


def signers(app, petition_id):
    return {int(m) for m in app.extensions["redis"].smembers(keys.signers(petition_id))}


def test_the_petition_page_carries_a_token_that_signs_once_then_answers_already_signed(app, client, petition):
    sam = make_user(app, "sam@example.com")
    login(client, "sam@example.com")
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert SIGN_URL_RE.search(page).group(1) == f"/api/petitions/{petition}/signatures"
    token = TOKEN_RE.search(page).group(1)
    anonymous = app.test_client()  # the endpoint reads no cookie: the token alone signs

    first = sign(anonymous, petition, token)
    assert first.status_code == 201
    assert first.get_json() == {"petition_id": petition, "new": True, "signature_count": 1}
    replayed = sign(anonymous, petition, token)
    assert replayed.status_code == 200
    assert replayed.get_json() == {"petition_id": petition, "new": False, "signature_count": 1}
    assert signers(app, petition) == {sam["id"]}
    assert [(e.petition_id, e.user_id) for e in Outbox(app.extensions["redis"]).all_entries()] == [(petition, sam["id"])]
    assert "You signed this petition." in client.get(f"/petitions/{petition}").get_data(as_text=True)


def test_answers_are_uncacheable_json_that_nothing_may_frame_or_sniff(app, client, petition):
    response = sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True))
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "make_token, why",
    [
        (lambda t, pid: None, "required"),
        (lambda t, pid: "not-a-token", "not valid"),
        (lambda t, pid: t.sign_token(41, pid + 1, confirmed=True), "another petition"),
        (lambda t, pid: t.lifecycle_token(pid), "not valid"),
        (lambda t, pid: SigningTokens("another-secret-of-at-least-32-chars!!").sign_token(41, pid, confirmed=True), "not valid"),
    ],
    ids=["missing", "garbage", "wrong-petition", "lifecycle-token", "foreign-secret"],
)
def test_a_token_that_does_not_name_this_petition_is_401_and_signs_nothing(app, client, petition, make_token, why):
    response = sign(client, petition, make_token(tokens(app), petition))
    assert response.status_code == 401 and error_code(response) == "not_authenticated"
    assert why in response.get_json()["error"]["message"]
    assert signers(app, petition) == set()


def test_a_token_edited_to_name_another_user_is_401(app, client, petition):
    token = tokens(app).sign_token(41, petition, confirmed=True)
    payload, stamp, signature = token.split(".")
    forged_payload = tokens(app).sign_token(42, petition, confirmed=True).split(".")[0]
    assert forged_payload != payload
    response = sign(client, petition, f"{forged_payload}.{stamp}.{signature}")
    assert response.status_code == 401
    assert signers(app, petition) == set()


def test_a_token_signs_only_as_its_own_user_whatever_session_comes_with_it(app, client, petition):
    make_user(app, "sam@example.com")
    login(client, "sam@example.com")  # a session cookie for another user rides along
    assert sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True)).status_code == 201
    assert signers(app, petition) == {41}
    assert sign(client, petition).status_code == 401  # the session alone signs nothing here


def test_an_expired_token_is_401(app, client, petition):
    eleven_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=11)
    response = sign(client, petition, tokens(app, clock=lambda: eleven_minutes_ago).sign_token(41, petition, confirmed=True))
    assert response.status_code == 401 and "expired" in response.get_json()["error"]["message"]


def test_the_authorization_scheme_is_bearer_in_any_case(app, client, petition):
    token = tokens(app).sign_token(41, petition, confirmed=True)
    assert sign(client, petition, headers={"Authorization": f"bearer  {token}"}).status_code == 201
    assert sign(client, petition, headers={"Authorization": f"Basic {token}"}).status_code == 401


@pytest.mark.parametrize("segment", ["0", "abc", "12x", str(2**31), "1" * 30, "-1"])
def test_a_path_that_cannot_name_a_petition_is_404(app, client, segment):
    response = sign(client, segment, "anything")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_a_petition_redis_does_not_know_is_404_once_the_index_is_complete(app, client, petition, owner):
    draft = make_draft(app, owner)
    for petition_id in (draft, 424242):
        response = sign(client, petition_id, tokens(app).sign_token(41, petition_id, confirmed=True))
        assert response.status_code == 404 and error_code(response) == "not_found"


def test_a_redis_that_lost_its_index_is_503_and_the_next_page_view_restores_it(app, client, petition):
    app.config["REBUILD_REDIS_ON_START"] = True
    app.extensions["redis"].flushdb()
    token = tokens(app).sign_token(41, petition, confirmed=True)
    response = sign(client, petition, token)
    assert response.status_code == 503 and error_code(response) == "store_unavailable"
    assert response.headers["Retry-After"] == "1"
    assert "not recorded" in response.get_json()["error"]["message"]
    assert client.get(f"/petitions/{petition}").status_code == 200  # restores from SQL
    assert sign(client, petition, token).status_code == 201


def test_a_closed_petition_is_409(app, client, petition):
    close_now(app, petition, datetime.now(timezone.utc), 0)
    app.extensions["open_store"].stop_signing(petition)  # as the close does first
    response = sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True))
    assert response.status_code == 409 and error_code(response) == "not_open"
    assert "closed" in response.get_json()["error"]["message"]


def test_past_its_deadline_a_petition_is_409_before_the_close_has_run(app, client, owner):
    launched = datetime.now(timezone.utc) - timedelta(days=1, minutes=1)
    petition_id = make_open(app, owner, days=1, launched_at=launched)
    response = sign(client, petition_id, tokens(app).sign_token(41, petition_id, confirmed=True))
    assert response.status_code == 409 and error_code(response) == "deadline_passed"
    assert signers(app, petition_id) == set()


def test_every_attempt_counts_toward_the_users_limit_then_429_with_retry_after(app, client, petition, owner):
    app.extensions["signing_endpoint"].service.limits = SignLimits("3 per minute", "600 per minute")
    other = make_open(app, owner, title="Another petition to sign today")
    token = tokens(app).sign_token(41, petition, confirmed=True)
    statuses = [sign(client, petition, token).status_code for _ in range(3)]
    refused = sign(client, other, tokens(app).sign_token(41, other, confirmed=True))
    assert statuses == [201, 200, 200]
    assert refused.status_code == 429 and error_code(refused) == "rate_limited"
    assert refused.headers["Retry-After"] == "60"
    assert sign(client, other, tokens(app).sign_token(42, other, confirmed=True)).status_code == 201


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b"[]", "application/json", "JSON object"),
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"opt_in": true}', "application/json", "Unknown field"),
        (b"csrf_token=x", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ],
)
def test_a_body_that_is_not_an_empty_json_object_is_400(app, client, petition, body, content_type, message):
    response = sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True), data=body, content_type=content_type)
    assert response.status_code == 400 and error_code(response) == "invalid_input"
    assert message in response.get_json()["error"]["message"]
    assert signers(app, petition) == set()


def test_an_empty_json_object_signs(app, client, petition):
    response = sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True), data=b"{}", content_type="application/json")
    assert response.status_code == 201


def test_a_body_over_a_kilobyte_is_413(app, client, petition):
    response = sign(client, petition, tokens(app).sign_token(41, petition, confirmed=True), data=b"{" + b" " * 2000 + b"}",
                    content_type="application/json")
    assert response.status_code == 413 and error_code(response) == "too_large"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_anything_but_post_is_405_naming_post(app, client, petition, method):
    response = client.open(f"/api/petitions/{petition}/signatures", method=method)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert error_code(response) == "method_not_allowed"


def test_without_redis_it_is_a_quick_503_safe_to_retry(app, petition):
    from tests.integration.test_failure_modes import _dispose, app_with_redis_at

    broken = app_with_redis_at("redis://127.0.0.1:5201/0")
    try:
        started = time.monotonic()
        response = sign(broken.test_client(), petition, tokens(app).sign_token(41, petition, confirmed=True))
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert "safe to try again" in response.get_json()["error"]["message"]
    finally:
        _dispose(broken)


def test_production_wants_https_and_sends_hsts(production_app, petition):
    client = production_app.test_client()
    token = wiring.signing_tokens(production_app).sign_token(41, petition, confirmed=True)
    plain = sign(client, petition, token)
    assert plain.status_code == 403 and error_code(plain) == "https_required"
    secure = sign(client, petition, token, headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 201
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
