"""Failure test: two web instances behind one nginx and two persisters on one consumer group.

Both instances boot on a Redis that holds nothing and rebuild it once between them. Mid-run one
instance (its gunicorn and every worker) and one persister are killed with -9: every signature
that got a success answer is in Redis, the surviving persister takes over what the dead one had
read, SQL holds each signature exactly once, and the outbox drains.
"""
import random
import re

from tests.reliability.checks import outbox_lag, redis_pairs, sql_rows
from tests.reliability.load import SignDriver, mint_sessions, seed
from tests.reliability.procs import flask_command, kill9_with_children, wait_until


def test_one_instance_and_one_persister_killed_lose_nothing(start_redis, start_stack, start_command, local_app):
    redis_server = start_redis(appendfsync="everysec")
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=400, petitions=25, open_in_redis=False)
    sessions = mint_sessions(local, user_ids)
    persisters = [start_command(flask_command("signatures", "persist"), redis_server, PERSISTER_CLAIM_IDLE_SECONDS=2)
                  for _ in range(2)]
    stack = start_stack(redis_server, instances=2, WEB_CONCURRENCY=4)
    assert stack.log("gunicorn-0") and len(stack.app_urls) == 2

    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]
    random.Random(11).shuffle(pairs)
    driver = SignDriver(int(stack.url.rsplit(":", 1)[1]), sessions, threads=32, retries=200)
    killed = []

    def kill_at_40_percent(answered):
        if not killed and answered >= len(pairs) * 0.4:
            kill9_with_children(stack.processes["gunicorn-0"])
            persisters[0].kill9()
            killed.append(len(driver.outcome.acknowledged))

    outcome = driver.run(pairs, on_progress=kill_at_40_percent)
    print(f"two instances, one killed with its persister after {killed[0]} acknowledged: answers "
          f"{outcome.statuses}, {outcome.connection_errors} dropped connections")
    assert killed
    assert outcome.gave_up == []
    assert len(outcome.acknowledged) == len(pairs) == 10_000
    # No app server's error reached anyone as a 500: an answer is a signature or "try again".
    assert set(outcome.statuses) <= {303, 503}

    in_redis = redis_pairs(redis_server.client(), petition_ids)
    assert in_redis == outcome.acknowledged == set(pairs)
    wait_until(lambda: len(sql_rows(local)) >= len(pairs), timeout=60, interval=0.5,
               what="the surviving persister to catch up")
    rows = sql_rows(local)
    assert len(rows) == len(set(rows)) == len(pairs)
    assert set(rows) == in_redis
    wait_until(lambda: outbox_lag(local) == 0, timeout=10, what="the outbox to drain")

    logs = stack.log("gunicorn-0") + stack.log("gunicorn-1")
    assert len(re.findall(r"rebuilt Redis open index", logs)) == 1
    assert persisters[1].process.poll() is None
