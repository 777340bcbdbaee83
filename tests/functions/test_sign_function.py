"""The signing HTTP function, called with real func.HttpRequest objects against the real Redis
and PostgreSQL, for every status it answers."""
import json
import socket
import time
import azure.functions as func
import pytest

from app.repositories.outbox import Outbox

SITE = "https://petitions.test"  # TestConfig.SITE_ORIGIN


@pytest.fixture
def sign_function(fn_clients, http_handles):
    return http_handles["sign_petition"]


@pytest.fixture
def tokens(fn_clients):
    return fn_clients.tokens()


def request(petition_id, token=None, origin=SITE, method="POST", ip="203.0.113.9", opt_ins=None):
    headers = {"X-Forwarded-For": ip}
    if opt_ins is not None:
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin:
        headers["Origin"] = origin
    return func.HttpRequest(
        method=method,
        url=f"https://fn.example.net/api/petitions/{petition_id}/signatures",
        headers=headers,
        route_params={"petition_id": str(petition_id)},
        body=b"" if opt_ins is None else json.dumps(opt_ins).encode(),
    )


def body(response):
    return json.loads(response.get_body())


def test_new_signature_is_201_with_the_count_then_200_when_signed_again(
    sign_function, tokens, make_petition, redis_client
):
    petition_id, _ = make_petition()
    first = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True)))
    assert first.status_code == 201
    assert body(first) == {"petition_id": petition_id, "new": True, "signature_count": 1}
    assert first.headers["Access-Control-Allow-Origin"] == SITE

    again = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True)))
    assert again.status_code == 200
    assert body(again) == {"petition_id": petition_id, "new": False, "signature_count": 1}
    other = sign_function(request(petition_id, tokens.sign_token(42, petition_id, confirmed=True)))
    assert body(other)["signature_count"] == 2
    assert [(e.petition_id, e.user_id) for e in Outbox(redis_client).all_entries()] == [
        (petition_id, 41),
        (petition_id, 42),
    ]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda tokens, pid: None,  # missing
        lambda tokens, pid: "not-a-token",  # bad
        lambda tokens, pid: tokens.sign_token(41, pid + 1, confirmed=True),  # another petition's
        lambda tokens, pid: tokens.lifecycle_token(pid),  # another purpose's
    ],
)
def test_missing_bad_or_misbound_token_is_401(sign_function, tokens, make_petition, redis_client, make_token):
    petition_id, _ = make_petition()
    response = sign_function(request(petition_id, make_token(tokens, petition_id)))
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "not_authenticated"
    assert not redis_client.exists(f"petition:{petition_id}:signers")


def test_the_outbox_records_the_signers_ip_prefix_domain_and_opt_ins(sign_function, tokens, make_petition, redis_client):
    petition_id, _ = make_petition()
    token = tokens.sign_token(41, petition_id, confirmed=True, email_domain="example.org")
    response = sign_function(request(petition_id, token, ip="2001:db8:7:1::5", opt_ins={"notify_close": True}))
    assert response.status_code == 201
    [entry] = Outbox(redis_client).all_entries()
    assert (entry.ip_prefix, entry.email_domain, entry.notify) == ("2001:db8:7::/48", "example.org", "c")


def test_opt_ins_that_are_not_booleans_are_a_400_and_record_nothing(sign_function, tokens, make_petition, redis_client):
    petition_id, _ = make_petition()
    token = tokens.sign_token(41, petition_id, confirmed=True)
    for opt_ins in ({"notify_close": "yes"}, {"notify_everything": True}, [True]):
        response = sign_function(request(petition_id, token, opt_ins=opt_ins))
        assert response.status_code == 400, opt_ins
        assert body(response)["error"]["message"]
    assert redis_client.scard(f"petition:{petition_id}:signers") == 0


def test_a_signer_the_moderators_removed_is_403_and_not_counted_again(sign_function, tokens, make_petition, redis_client, app):
    petition_id, _ = make_petition()
    token = tokens.sign_token(41, petition_id, confirmed=True)
    assert sign_function(request(petition_id, token)).status_code == 201
    app.extensions["open_store"].invalidate(petition_id, [41])
    again = sign_function(request(petition_id, token))
    assert again.status_code == 403
    assert body(again)["error"]["code"] == "signature_removed"
    assert redis_client.scard(f"petition:{petition_id}:signers") == 0


def test_a_token_of_an_unconfirmed_signer_is_403_and_records_nothing(sign_function, tokens, make_petition, redis_client):
    petition_id, _ = make_petition()
    response = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=False)))
    assert response.status_code == 403
    assert body(response)["error"]["code"] == "email_not_confirmed"
    assert "Confirm your email address" in body(response)["error"]["message"]
    assert redis_client.scard(f"petition:{petition_id}:signers") == 0


def test_expired_token_is_401(sign_function, fn_clients, make_petition, clock, tokens):
    petition_id, _ = make_petition()
    token = tokens.sign_token(41, petition_id, confirmed=True)
    clock.advance(minutes=10, seconds=1)
    response = sign_function(request(petition_id, token))
    assert response.status_code == 401
    assert "expired" in body(response)["error"]["message"]


def test_unknown_petition_is_404(sign_function, tokens, fn_clients):
    fn_clients.open_store().mark_ready("complete")  # what the web app's start-up leaves
    response = sign_function(request(999, tokens.sign_token(41, 999, confirmed=True)))
    assert response.status_code == 404
    assert body(response)["error"]["code"] == "not_found"


def test_a_redis_that_lost_its_open_index_is_a_503_not_a_404(sign_function, tokens, make_petition, redis_client):
    petition_id, _ = make_petition()
    redis_client.flushdb()
    response = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True)))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "not recorded" in body(response)["error"]["message"]


def test_past_deadline_is_409_even_before_the_close_has_run(sign_function, tokens, make_petition, clock):
    petition_id, _ = make_petition(days=1)
    clock.advance(days=1)
    response = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True)))
    assert response.status_code == 409
    assert body(response)["error"]["code"] == "deadline_passed"


def test_closed_petition_is_409(sign_function, tokens, make_petition, fn_clients):
    petition_id, _ = make_petition()
    with fn_clients.services() as services:
        services.closing().close(petition_id)
    response = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True)))
    assert response.status_code == 409
    assert body(response)["error"]["code"] == "not_open"


def test_rate_limited_user_gets_429(sign_function, tokens, make_petition, fn_clients, monkeypatch):
    monkeypatch.setenv("SIGN_RATE_LIMIT_USER", "3 per minute")
    fn_clients.reset()
    petition_id, _ = make_petition()
    token = tokens.sign_token(41, petition_id, confirmed=True)
    statuses = [sign_function(request(petition_id, token)).status_code for _ in range(4)]
    assert statuses == [201, 200, 200, 429]
    other_user = sign_function(request(petition_id, tokens.sign_token(42, petition_id, confirmed=True)))
    assert other_user.status_code == 201


@pytest.fixture
def silent_port():
    """A port that completes the TCP handshake and never answers, like a hung Redis."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 5313))
    server.listen(64)
    yield 5313
    server.close()


@pytest.mark.parametrize("hung", [False, True], ids=["redis-down", "redis-hung"])
def test_store_unavailable_is_a_quick_503_safe_to_retry(
    sign_function, make_petition, fn_clients, monkeypatch, redis_client, silent_port, hung
):
    petition_id, _ = make_petition()
    port = silent_port if hung else 5349  # nothing listens on 5349
    monkeypatch.setenv("TEST_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    fn_clients.reset()
    started = time.monotonic()
    response = sign_function(request(petition_id, fn_clients.tokens().sign_token(41, petition_id, confirmed=True)))
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "not recorded" in body(response)["error"]["message"]
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    assert not redis_client.exists(f"petition:{petition_id}:signers")


def test_cors_only_for_the_site_origin(sign_function, tokens, make_petition):
    petition_id, _ = make_petition()
    preflight = sign_function(request(petition_id, method="OPTIONS"))
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]

    foreign = sign_function(request(petition_id, tokens.sign_token(41, petition_id, confirmed=True), origin="https://evil.example"))
    assert "Access-Control-Allow-Origin" not in foreign.headers
    foreign_preflight = sign_function(request(petition_id, method="OPTIONS", origin="https://evil.example"))
    assert "Access-Control-Allow-Origin" not in foreign_preflight.headers


def test_signature_reaches_sql_through_the_persist_timer(sign_function, tokens, make_petition, timer_handles, app):
    from app.web.extensions import db
    from app.repositories.petitions_sql import SignatureRepository

    petition_id, _ = make_petition()
    for uid in (41, 42, 43):
        assert sign_function(request(petition_id, tokens.sign_token(uid, petition_id, confirmed=True))).status_code == 201
    timer_handles["persist_signatures"](None)
    with app.app_context():
        assert sorted(SignatureRepository(db.session).user_ids_for(petition_id)) == [41, 42, 43]


def test_a_token_minted_by_the_web_app_is_accepted(sign_function, make_petition, app, fn_clients, monkeypatch, clock):
    """The two apps share SIGNING_TOKEN_SECRET: what the web page carries, the function takes."""
    from app.web import wiring
    from app.domain.petitions import utcnow

    monkeypatch.setattr(fn_clients, "clock", utcnow)  # the web app mints with the wall clock
    clock.now = utcnow()
    petition_id, _ = make_petition()
    with app.test_request_context():
        token = wiring.signing_tokens().sign_token(77, petition_id, confirmed=True)
    assert sign_function(request(petition_id, token)).status_code == 201
