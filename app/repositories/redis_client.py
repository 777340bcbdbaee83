"""Builds the Redis client: a real server when a URL is given, otherwise the embedded fakeredis.

A `redis+sentinel://host:port,host:port/service` URL (what REDIS_SENTINELS and
REDIS_SENTINEL_SERVICE make, config/settings.py) finds the primary through Sentinel: every new
connection asks the sentinels where the primary is, and a connection to a primary that was
demoted is dropped, so after a failover the next request reaches the new primary, no restart.
"""
import threading
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"

_embedded_server = None
_embedded_lock = threading.Lock()


def sentinel_url(sentinels, service):
    """The URL for `sentinels` ("host:port,host:port") and the primary's service name; the
    rate limiter (the `limits` package) reads the same form."""
    return f"{SENTINEL_SCHEME}://{sentinels}/{service}"


def parse_sentinel_url(url):
    """([(host, port), ...], service) from a sentinel_url."""
    parts = urlsplit(url)
    hosts = []
    for address in parts.netloc.split(","):
        host, _, port = address.rpartition(":")
        hosts.append((host, int(port)))
    return hosts, parts.path.strip("/")


def make_redis(url, socket_timeout=0.5, max_connections=64):
    if not url:
        return _embedded_redis()
    # No automatic retries: a hung or absent Redis must surface within the socket timeout so the
    # user hears "not recorded, safe to retry" instead of waiting on a stalled request.
    options = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    if url.startswith(f"{SENTINEL_SCHEME}://"):
        return _through_sentinel(url, options, max_connections)
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=socket_timeout, health_check_interval=30, **options
    )
    return redis.Redis(connection_pool=pool)


def _through_sentinel(url, options, max_connections):
    hosts, service = parse_sentinel_url(url)
    # While no sentinel knows a primary (mid-failover) a command raises MasterNotFoundError, a
    # ConnectionError, which the store answers as "not recorded, safe to try again".
    sentinel = Sentinel(hosts, sentinel_kwargs=dict(options), **options)
    return sentinel.master_for(service, max_connections=max_connections, health_check_interval=30)


def _embedded_redis():
    """One in-process server per process, shared by every client (threads, the persister)."""
    global _embedded_server
    import fakeredis

    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer(version=(7, 0))
    return fakeredis.FakeRedis(server=_embedded_server)
