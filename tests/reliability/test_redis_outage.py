"""Failure test 4: Redis hung (SIGSTOP) and Redis gone (kill -9).

Signing must answer 503 "not recorded, safe to retry" within the Redis socket timeout plus half
a second, no gunicorn worker may time out, and signing must work again once Redis is back, without
restarting the app. The rate limiter is on, as in production: its counters live in Redis too.
Public pages a worker has shown before are served from its cache, saying the count may be stale.
"""
import re

from tests.reliability.load import get_request, mint_sessions, seed, sign_request
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


def _warm_every_worker(web, paths):
    """Shows each page until every worker has rendered it once (each keeps its own cache)."""
    def all_served():
        for path in paths:
            assert get_request(web.port, path)[0] == 200
        log = web.log()
        return all(
            set(re.findall(rf"access pid=<(\d+)> status=200 GET {re.escape(path)}\n", log)) >= ready
            for path in paths
        )

    ready = {str(pid) for pid in web.ready_workers()}
    wait_until(all_served, timeout=30, what="every worker to show every page")


def _assert_stale_pages(web, paths, count_text):
    for path in paths:
        status, answer, elapsed = get_request(web.port, path)
        assert status == 200, (path, answer[:300])
        assert b"signature counts on this page may be out of date" in answer, path
        assert count_text in answer, path
        assert elapsed < LIMIT, f"{path} answered after {elapsed:.2f}s"


def test_hung_then_gone_redis_answers_503_fast_and_recovers(start_redis, start_gunicorn, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=30, petitions=4)
    sessions = mint_sessions(local, user_ids)
    # PAGE_CACHE_SECONDS=0: every page asks Redis, so the stale fallback is what answers below.
    web = start_gunicorn(redis_server, workers=2, timeout=5, access_log=True,
                         REDIS_SOCKET_TIMEOUT=SOCKET_TIMEOUT, PAGE_CACHE_SECONDS=0)
    pairs = iter([(pid, uid) for uid in user_ids for pid in petition_ids[1:]])
    pages = ["/", f"/petitions/{petition_ids[0]}"]
    first = petition_ids[0]
    assert [sign_request(web.port, sessions[uid], first, uid)[0] for uid in user_ids[:3]] == [303] * 3
    _warm_every_worker(web, pages)

    warm = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    assert [status for status, _, _ in warm] == [303] * 6

    redis_server.pause()  # hung: connections accepted by the kernel, never answered
    hung = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    _assert_stale_pages(web, pages, b">3</strong>")
    redis_server.resume()
    _assert_refused_in_time(hung)
    recovered_after_hang = _recovers(web.port, sessions, pairs)

    redis_server.kill9()  # gone: connections refused
    gone = _sign_all(web.port, sessions, [next(pairs) for _ in range(6)])
    _assert_refused_in_time(gone)
    _assert_stale_pages(web, pages, b">3</strong>")
    redis_server.start()
    recovered_after_restart = _recovers(web.port, sessions, pairs)

    # gunicorn would log this had a request outlived --timeout; the workers are the same ones.
    assert "WORKER TIMEOUT" not in web.log()
    assert web.process.poll() is None
    print(
        f"hung: {[round(e, 3) for _, _, e in hung]}; gone: {max(e for _, _, e in gone):.3f}s max; "
        f"503s before recovery: {recovered_after_hang} after SIGCONT, {recovered_after_restart} after restart"
    )
