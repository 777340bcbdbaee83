"""The Functions app's settings class refuses to start without what it needs."""
import pytest

from config import load_config
from config.settings import ConfigError

NEEDED = {
    "REDIS_URL": "rediss://:key@cache.example.net:6380/0",
    "DATABASE_URL": "postgresql+psycopg://db/p",
    "USERS_DATABASE_URL": "postgresql+psycopg://db/u",
    "SIGNING_TOKEN_SECRET": "s" * 32,
    "SITE_ORIGIN": "https://petitions.example.org",
}


@pytest.fixture
def env(monkeypatch):
    for name in NEEDED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_functions_config_names_every_missing_setting(env):
    with pytest.raises(ConfigError, match="REDIS_URL, DATABASE_URL, USERS_DATABASE_URL, SIGNING_TOKEN_SECRET, SITE_ORIGIN"):
        load_config("functions")


def test_functions_config_needs_a_long_token_secret(env):
    for name, value in NEEDED.items():
        env.setenv(name, value)
    env.setenv("SIGNING_TOKEN_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        load_config("functions")


def test_functions_config_with_everything_set(env):
    for name, value in NEEDED.items():
        env.setenv(name, value)
    config = load_config("functions")
    assert config.ENV_NAME == "functions" and config.SITE_ORIGIN == NEEDED["SITE_ORIGIN"]
    assert config.RATELIMIT_STORAGE_URI == NEEDED["REDIS_URL"]  # the same limiter settings as the web app
