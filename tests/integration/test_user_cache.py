"""Signed-in requests read the user from a short-lived Redis copy instead of the users DB, and
logout still kills old cookies at once."""
from sqlalchemy import event

from app.web.extensions import db
from app.repositories import redis_keys as keys
from tests.helpers import logout, register


def _users_db_queries(app):
    """A list that fills with every statement sent to the users database."""
    statements = []
    with app.app_context():
        engine = db.engines["users"]
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_signed_in_requests_after_the_first_skip_the_users_db(app, client):
    register(client, "ann@example.com", "Ann Example")
    client.get("/my/petitions")  # fills the cache
    queries = _users_db_queries(app)
    page = client.get("/my/petitions")
    assert page.status_code == 200
    assert "Ann Example" in page.get_data(as_text=True)
    assert queries == []


def test_an_old_cookie_is_refused_right_after_logout(app, client):
    register(client, "ann@example.com", "Ann Example")
    assert client.get("/my/petitions").status_code == 200
    old_cookie = client.get_cookie("session").value
    logout(client)
    client.set_cookie("session", old_cookie)
    response = client.get("/my/petitions")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_a_stale_card_with_another_token_is_refused(app, client, redis_client):
    """A card from before a token rotation elsewhere never lets the old token through."""
    register(client, "ann@example.com", "Ann Example")
    client.get("/my/petitions")
    user_id = next(k for k in redis_client.scan_iter("user:*:card")).decode().split(":")[1]
    redis_client.set(keys.user_card(user_id), b'{"id": %s, "email": "x", "display_name": "x", "session_token": "other", "email_confirmed": true, "is_moderator": false}' % user_id.encode())
    assert client.get("/my/petitions").status_code == 302


def test_without_redis_the_users_db_answers(app, client):
    register(client, "ann@example.com", "Ann Example")
    cache = app.extensions["user_cache"]
    cache.redis = type(cache.redis)(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens on port 1
    assert client.get("/my/petitions").status_code == 200


def test_login_leaves_the_card_in_the_cache(app, client, redis_client):
    register(client, "ann@example.com", "Ann Example")
    assert list(redis_client.scan_iter("user:*:card"))


def test_a_cold_signer_costs_the_users_db_one_query_and_the_form_still_signs(app, client, redis_client):
    """Signed in an hour ago, read the petition for five minutes: the card has expired."""
    from tests.helpers import csrf_token
    from tests.integration.support import make_open, make_user

    petition_id = make_open(app, make_user(app, "owner@example.com"))
    register(client, "ann@example.com", "Ann Example")
    token = csrf_token(client, f"/petitions/{petition_id}")
    for card in redis_client.scan_iter("user:*:card"):
        redis_client.delete(card)
    queries = _users_db_queries(app)
    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("?signed=new")
    assert len(queries) == 1, queries


def test_a_full_users_db_pool_is_a_503_safe_to_retry_not_a_500(app, config, redis_client):
    from app.web.factory import create_app
    from tests.helpers import login
    from tests.integration.support import make_user

    config.SQLALCHEMY_ENGINE_OPTIONS = {**config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 1, "pool_timeout": 0.2}
    app = create_app(config)
    make_user(app, "ann@example.com")
    client = app.test_client()
    assert login(client, "ann@example.com").status_code == 302
    for card in redis_client.scan_iter("user:*:card"):
        redis_client.delete(card)
    with app.app_context():
        engines = dict(db.engines)
    held = engines["users"].connect()  # another request holds the process's only one
    try:
        for accept in ("text/html", "application/json"):
            response = client.get("/my/petitions", headers={"Accept": accept})
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.headers["Retry-After"] == "1"
            assert "safe to try again" in response.get_data(as_text=True)
    finally:
        held.close()
    assert client.get("/my/petitions").status_code == 200
    for engine in engines.values():
        engine.dispose()


def test_an_unreachable_users_db_is_a_503_not_a_500(app, config):
    from app.web.factory import create_app

    config.SQLALCHEMY_BINDS = {"users": "postgresql+psycopg://postgres@127.0.0.1:5201/nowhere?connect_timeout=1"}
    app = create_app(config)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:sometoken"
    response = client.get("/")
    assert response.status_code == 503
    assert "safe to try again" in response.get_data(as_text=True)
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
