"""Failure test 4: Redis hung (SIGSTOP) and Redis gone (kill -9).

Signing must answer 503 "nothing recorded, safe to retry" within the Redis socket timeout plus half
a second, no gunicorn worker may time out, and signing must work again once Redis is back, without
restarting the app. The rate limiter is on, as in production: its counters live in Redis too.
"""
import time

from tests.reliability.load import mint_sessions, seed, sign_request
from tests.reliability.procs import wait_until

SOCKET_TIMEOUT = 0.5
LIMIT = SOCKET_TIMEOUT + 0.5


def _sign_all(port, sessions, pairs):
    return [sign_request(port, sessions[uid], pid, uid) for pid, uid in pairs]


def _assert_refused_in_time(answers):
    for status, answer, elapsed in answers:
        assert status == 503, answer[:300]
        assert b"not recorded, it is safe to try again." in answer
        assert b"Retry-After: 1" in answer
        assert elapsed < LIMIT, f"answered after {elapsed:.2f}s"


def _recovers(port, sessions, pairs):
    """Signing succeeds again; the first answers may still be 503 while stale pooled connections
    are discarded (each one once). Returns how many 503s came before the first success."""
    refused = 0
    for pid, uid in pairs:
        status, answer, _ = sign_request(port, sessions[uid], pid, uid)
        if status == 303:
            return refused
        assert status == 503, answer[:300]
        refused += 1
    raise AssertionError("signing did not recover")


def test_hung_then_gone_redis_answers_503_fast_and_recovers(start_redis, start_gunicorn, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=30, petitions=4)
    sessions = mint_sessions(local, user_ids)
    web = start_gunicorn(redis_server, workers=2, timeout=5, REDIS_SOCKET_TIMEOUT=SOCKET_TIMEOUT)
    pairs = iter([(pid, uid) for uid in user_ids for pid in petition_ids])

    warm = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    assert [status for status, _, _ in warm] == [303] * 6

    redis_server.pause()  # hung: connections accepted by the kernel, never answered
    hung = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    redis_server.resume()
    _assert_refused_in_time(hung)
    recovered_after_hang = _recovers(web.port, sessions, pairs)

    redis_server.kill9()  # gone: connections refused
    gone = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    _assert_refused_in_time(gone)
    redis_server.start()
    recovered_after_restart = _recovers(web.port, sessions, pairs)

    # gunicorn would log this had a request outlived --timeout; the workers are the same ones.
    assert "WORKER TIMEOUT" not in web.log()
    assert web.process.poll() is None
    print(
        f"hung: {max(e for _, _, e in hung):.3f}s max; gone: {max(e for _, _, e in gone):.3f}s max; "
        f"503s before recovery: {recovered_after_hang} after SIGCONT, {recovered_after_restart} after restart"
    )
