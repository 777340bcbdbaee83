"""Builds the Redis client: a real server when a URL is given, otherwise the embedded fakeredis."""
import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_embedded_server = None
_embedded_lock = threading.Lock()


def make_redis(url, socket_timeout=0.5, max_connections=64):
    if not url:
        return _embedded_redis()
    # No automatic retries: a hung or absent Redis must surface within the socket timeout so the
    # user hears "not recorded, safe to retry" instead of waiting on a stalled request.
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


def _embedded_redis():
    """One in-process server per process, shared by every client (threads, the persister)."""
    global _embedded_server
    import fakeredis

    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer(version=(7, 0))
    return fakeredis.FakeRedis(server=_embedded_server)
