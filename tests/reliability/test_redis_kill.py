"""Failure test 1: kill -9 of Redis during a burst of signatures.

Every signature the app acknowledged (303) must be in Redis after the restart, and in SQL once the
persister has caught up. The canary runs the same check against a Redis without AOF: it must find
loss, which proves the check can fail.
"""
import random
import threading
import time

from tests.reliability.checks import outbox_lag, persist_all, redis_pairs, sql_rows
from tests.reliability.load import SignDriver, mint_sessions, seed


def _kill_redis_during_load(start_redis, start_gunicorn, local_app, users, petitions, appendonly, retries):
    redis_server = start_redis(appendonly=appendonly, appendfsync="always")
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users, petitions)
    sessions = mint_sessions(local, user_ids)
    # The rate limiter stores its counters in the same Redis; it is off here so the burst measures
    # durability only (the limits have their own tests in tests/security).
    web = start_gunicorn(redis_server, workers=4, RATELIMIT_ENABLED=0)

    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]
    random.Random(5).shuffle(pairs)
    acknowledged_before_kill = []
    killed = threading.Event()
    driver = SignDriver(web.port, sessions, threads=16, retries=retries)

    def kill_at_40_percent(answered):
        if not killed.is_set() and answered >= len(pairs) * 0.4:
            acknowledged_before_kill.append(len(driver.outcome.acknowledged))
            redis_server.kill9()
            killed.set()
            redis_server.start()  # same port, same directory: Redis replays its AOF

    started = time.monotonic()
    outcome = driver.run(pairs, on_progress=kill_at_40_percent)
    seconds = time.monotonic() - started
    assert killed.is_set()
    print(f"kill -9 of Redis (AOF {'on' if appendonly else 'off'}) during {len(pairs)} signatures in "
          f"{seconds:.0f} s: answers {outcome.statuses}, {acknowledged_before_kill[0]} acknowledged before "
          f"the kill, {len(outcome.acknowledged)} in all")
    return redis_server, local, petition_ids, pairs, outcome, web


def test_kill9_redis_loses_no_acknowledged_signature(start_redis, start_gunicorn, local_app):
    redis_server, local, petition_ids, pairs, outcome, web = _kill_redis_during_load(
        start_redis, start_gunicorn, local_app, users=200, petitions=50, appendonly=True, retries=200
    )
    assert len(pairs) == 10_000
    # Every pair was eventually acknowledged: 503 meant "not recorded, retry" and retrying worked.
    assert outcome.gave_up == []
    assert len(outcome.acknowledged) == 10_000
    assert outcome.statuses.get(503, 0) > 0, "the kill did not hit the load"

    in_redis = redis_pairs(redis_server.client(), petition_ids)
    assert outcome.acknowledged - in_redis == set()
    assert in_redis == set(pairs)

    persist_all(local)
    rows = sql_rows(local)
    assert len(rows) == len(set(rows)) == 10_000
    assert set(rows) == in_redis
    assert outbox_lag(local) == 0
    assert "WORKER TIMEOUT" not in web.log()


def test_canary_without_aof_detects_the_loss(start_redis, start_gunicorn, local_app):
    redis_server, local, petition_ids, pairs, outcome, _ = _kill_redis_during_load(
        start_redis, start_gunicorn, local_app, users=40, petitions=50, appendonly=False, retries=0
    )
    in_redis = redis_pairs(redis_server.client(), petition_ids)
    lost = outcome.acknowledged - in_redis
    # Without AOF the restarted Redis is empty: what was acknowledged before the kill is gone. (After
    # the restart signing answers 503 "paused, not recorded" until someone runs the rebuild, so
    # nothing is retried here.)
    assert len(lost) > 500
    print(f"canary without AOF: {len(lost)} of {len(outcome.acknowledged)} acknowledged signatures lost")
