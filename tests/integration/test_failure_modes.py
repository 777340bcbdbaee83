"""Bad input and broken dependencies: oversized bodies, Redis down or hung, unsafe production config."""
import socket
import time

import pytest
from sqlalchemy import func, select

from app.web.extensions import db
from app.web.factory import create_app
from app.repositories.models import Petition
from config import settings
from config.settings import ConfigError, ProductionConfig, load_config
from tests.helpers import DEFAULT_PASSWORD, create_draft, csrf_token, login, post_form
from tests.integration.support import make_open, make_user, petition_row

CLOSED_PORT = 5201  # nothing listens here
SILENT_PORT = 5202  # accepts connections, never answers


def _dispose(app):
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def silent_redis():
    """A TCP port that completes the handshake but never replies, like a hung Redis."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", SILENT_PORT))
    server.listen(128)
    yield f"redis://127.0.0.1:{SILENT_PORT}/0"
    server.close()


def app_with_redis_at(url):
    config = settings.TestConfig()
    config.REDIS_URL = config.RATELIMIT_STORAGE_URI = url
    return create_app(config)


@pytest.mark.parametrize("redis_url", [f"redis://127.0.0.1:{CLOSED_PORT}/0", "silent"])
def test_signing_without_redis_is_a_quick_503_saying_nothing_was_recorded(app, silent_redis, redis_url):
    owner = make_user(app, "owner@example.com")
    petition_id = make_open(app, owner)
    make_user(app, "sam@example.com")
    broken = app_with_redis_at(silent_redis if redis_url == "silent" else redis_url)
    try:
        client = broken.test_client()
        assert login(client, "sam@example.com").status_code == 302
        token = csrf_token(client, "/petitions/new")
        started = time.monotonic()
        response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})
        elapsed = time.monotonic() - started
        text = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "not recorded" in text and "safe to try again" in text
        assert response.headers["Retry-After"] == "1"
        assert response.headers["Cache-Control"] == "no-store"
        assert elapsed < 2.0, f"took {elapsed:.2f}s"
        json = client.post(
            f"/petitions/{petition_id}/sign", data={"csrf_token": token}, headers={"Accept": "application/json"}
        )
        assert json.status_code == 503 and json.get_json()["error"]["code"] == "store_unavailable"
    finally:
        _dispose(broken)
    assert app.extensions["redis"].scard(f"petition:{petition_id}:signers") == 0


def test_launch_without_redis_leaves_the_petition_a_draft(app):
    make_user(app, "owner@example.com")
    broken = app_with_redis_at(f"redis://127.0.0.1:{CLOSED_PORT}/0")
    try:
        client = broken.test_client()
        login(client, "owner@example.com")
        petition_id = create_draft(client)
        response = post_form(client, f"/petitions/{petition_id}/launch", {}, token_from="/petitions/new")
        assert response.status_code == 503
    finally:
        _dispose(broken)
    row = petition_row(app, petition_id)
    assert (row["state"], row["launched_at"], row["closes_at"]) == ("draft", None, None)


def test_api_without_redis_is_503_json(app):
    broken = app_with_redis_at(f"redis://127.0.0.1:{CLOSED_PORT}/0")
    try:
        response = broken.test_client().get("/api/petitions")
    finally:
        _dispose(broken)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "store_unavailable"


# -- oversized bodies ------------------------------------------------------------------------
def test_request_body_over_1_mib_is_refused_with_413(app, client):
    response = client.post("/auth/register", data={"email": "a@example.com", "display_name": "x" * (1024 * 1024)})
    assert response.status_code == 413
    assert "larger than 1 MiB" in response.get_data(as_text=True)
    json = client.post(
        "/auth/login", data={"email": "x" * (1024 * 1024)}, headers={"Accept": "application/json"}
    )
    assert json.status_code == 413
    assert json.get_json()["error"]["message"] == "The request was larger than 1 MiB."


def test_oversized_petition_form_saves_nothing(app, client):
    make_user(app, "owner@example.com")
    login(client, "owner@example.com")
    token = csrf_token(client, "/petitions/new")
    response = client.post(
        "/petitions/new", data={"csrf_token": token, "title": "A fine title", "body": "b" * (1024 * 1024), "duration_days": "30"}
    )
    assert response.status_code == 413
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 0


def test_nul_characters_are_refused_in_every_form_encoding(app, client):
    """The guard skips requests with no query string and no form body; a multipart form, or a
    urlencoded one whose content type carries a charset, is still read and refused."""
    token = csrf_token(client, "/auth/register")
    fields = {"email": "b@example.com", "display_name": "B\x00", "password": DEFAULT_PASSWORD, "csrf_token": token}
    multipart = client.post("/auth/register", data=fields, content_type="multipart/form-data")
    assert multipart.status_code == 400 and "NUL character" in multipart.get_data(as_text=True)
    body = "&".join(f"{k}={v}" for k, v in fields.items()).replace("\x00", "%00").replace("@", "%40")
    urlencoded = client.post("/auth/register", data=body,
                             content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert urlencoded.status_code == 400 and "NUL character" in urlencoded.get_data(as_text=True)
    assert client.get("/auth/register").status_code == 200


def test_a_body_just_under_the_limit_is_read(app, client):
    token = csrf_token(client, "/auth/register")
    response = client.post(
        "/auth/register",
        data={"csrf_token": token, "email": "a@example.com", "display_name": "A", "password": DEFAULT_PASSWORD, "pad": "x" * 1_000_000},
    )
    assert response.status_code == 302


# -- production configuration ----------------------------------------------------------------
PRODUCTION_ENV = {
    "SECRET_KEY": "s" * 40,
    "REDIS_URL": "redis://cache.example:6380/0",
    "DATABASE_URL": "postgresql+psycopg://app@db.example/petitions",
    "USERS_DATABASE_URL": "postgresql+psycopg://app@db.example/users",
    "SMTP_URL": "smtp://mail.example:587",
    "SITE_ORIGIN": "https://petitions.example",
}


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.delenv("MAIL_DIR", raising=False)
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APP_ENV", "production")
    return monkeypatch


def test_production_config_accepts_a_complete_environment(production_env):
    config = load_config()
    assert isinstance(config, ProductionConfig)
    assert config.SESSION_COOKIE_SECURE is True and config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "REDIS_URL", "DATABASE_URL", "USERS_DATABASE_URL", "SMTP_URL", "SITE_ORIGIN"]
)
def test_production_refuses_to_start_without_each_setting(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        load_config()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "REDIS_URL", "DATABASE_URL"])
def test_wsgi_app_cannot_be_built_without_it(production_env, missing):
    production_env.setenv(missing, "")
    with pytest.raises(ConfigError):
        create_app()


def test_production_refuses_a_short_secret_or_sqlite(production_env):
    production_env.setenv("SECRET_KEY", "too-short")
    with pytest.raises(ConfigError, match="at least 32"):
        load_config()
    production_env.setenv("SECRET_KEY", "s" * 40)
    production_env.setenv("DATABASE_URL", "sqlite:///petitions.db")
    with pytest.raises(ConfigError, match="not SQLite"):
        load_config()


def test_unknown_app_env_is_refused(monkeypatch):
    monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config()


# -- text the database cannot store ----------------------------------------------------------
def test_nul_characters_are_a_400_not_a_database_error(app, client):
    make_user(app, "ann@example.com")
    assert login(client, "ann\x00@example.com").status_code == 400
    register = post_form(client, "/auth/register", {"email": "b@example.com", "display_name": "B\x00", "password": DEFAULT_PASSWORD})
    assert register.status_code == 400
    assert "NUL character" in register.get_data(as_text=True)
    assert client.get("/?state=closed&q=a%00b").status_code == 400
    api = client.get("/api/petitions?state=closed&q=a%00b")
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "invalid_input"
    login(client, "ann@example.com")
    for fields in ({"title": "A title \x00 here", "body": "b"}, {"title": "A fine title", "body": "b\x00"}):
        assert post_form(client, "/petitions/new", {**fields, "duration_days": "30"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 0
