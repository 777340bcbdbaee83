"""Redis settings: Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_SERVICE) and replica acknowledgement."""
import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from app.repositories.redis_client import make_redis, parse_sentinel_url
from config.settings import BaseConfig, ConfigError

NAMES = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE", "REDIS_MIN_REPLICAS_ACK",
         "REDIS_REPLICA_ACK_TIMEOUT", "REDIS_SOCKET_TIMEOUT")


@pytest.fixture
def env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_sentinels_name_the_store_for_the_app_and_the_rate_limiter(env):
    env.setenv("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26380")
    env.setenv("REDIS_SENTINEL_SERVICE", "petitions")
    config = BaseConfig()
    assert config.REDIS_URL == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26380/petitions"
    assert config.RATELIMIT_STORAGE_URI == config.REDIS_URL  # the limits package reads this form
    assert config.RATELIMIT_STORAGE_OPTIONS["use_replicas"] is False
    assert not config.embedded_redis
    hosts, service = parse_sentinel_url(config.REDIS_URL)
    assert hosts == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)] and service == "petitions"


def test_the_client_finds_its_primary_through_the_sentinels(env):
    client = make_redis("redis+sentinel://127.0.0.1:1,127.0.0.1:2/petitions", socket_timeout=0.2)
    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "petitions"
    # No sentinel answers: the command fails as a connection error (the store's 503), quickly.
    with pytest.raises(redis.exceptions.ConnectionError, match="No master found for 'petitions'"):
        client.ping()


def test_sentinels_need_a_service_name_and_exclude_redis_url(env):
    env.setenv("REDIS_SENTINELS", "10.0.0.1:26379")
    with pytest.raises(ConfigError, match="REDIS_SENTINEL_SERVICE"):
        BaseConfig()
    env.setenv("REDIS_SENTINEL_SERVICE", "petitions")
    env.setenv("REDIS_URL", "redis://10.0.0.9:6379/0")
    with pytest.raises(ConfigError, match="not both"):
        BaseConfig()


def test_replica_acknowledgement_is_off_by_default_and_must_end_before_the_socket_timeout(env):
    assert BaseConfig().REDIS_MIN_REPLICAS_ACK == 0
    env.setenv("REDIS_MIN_REPLICAS_ACK", "1")
    assert BaseConfig().REDIS_REPLICA_ACK_TIMEOUT == 0.3
    env.setenv("REDIS_REPLICA_ACK_TIMEOUT", "0.5")
    with pytest.raises(ConfigError, match="shorter than REDIS_SOCKET_TIMEOUT"):
        BaseConfig()
