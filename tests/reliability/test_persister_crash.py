"""Failure tests 2 and 5: the persister killed mid-batch or between SQL commit and acknowledgement,
and the whole outbox replayed from the start. Afterwards SQL and Redis hold the same signatures,
none twice, and the outbox has nothing left to deliver."""
import sys

import redis

from app.repositories import redis_keys as keys
from tests.reliability.checks import outbox_lag, persist_all, redis_pairs, sign_in_redis, sql_rows
from tests.reliability.load import seed
from tests.reliability.procs import flask_command, wait_until


def _fill_outbox(local, users, petitions):
    user_ids, petition_ids = seed(local, users, petitions)
    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]
    assert sign_in_redis(local, pairs) == len(pairs)
    return pairs, petition_ids


def _pending(client):
    try:
        return client.xpending(keys.OUTBOX, keys.OUTBOX_GROUP)["pending"]
    except redis.exceptions.ResponseError:  # the persister has not created its group yet
        return 0


def _in_later_batch(client, batch_size):
    """A batch is read and unacknowledged, and at least one earlier batch went through (was
    acknowledged: delivered and no longer pending; the next batch may be read ahead)."""
    try:
        group = client.xinfo_groups(keys.OUTBOX)[0]
    except (redis.exceptions.ResponseError, IndexError):
        return False
    return group["pending"] > 0 and group["entries-read"] - group["pending"] >= batch_size


def _assert_agree(local, redis_server, pairs, petition_ids):
    rows = sql_rows(local)
    assert len(rows) == len(set(rows)), "a signature was stored twice"
    assert set(rows) == redis_pairs(redis_server.client(), petition_ids) == set(pairs)
    assert outbox_lag(local) == 0


def test_kill9_persister_mid_batch(start_redis, start_command, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    pairs, petition_ids = _fill_outbox(local, users=1000, petitions=30)
    client = redis_server.client()

    persister = start_command(flask_command("signatures", "persist"), redis_server, PERSISTER_BATCH_SIZE=5000)
    wait_until(lambda: _in_later_batch(client, 5000), timeout=30, interval=0.002, what="a batch in flight")
    persister.kill9()
    in_flight, stored_at_kill = _pending(client), len(sql_rows(local))
    assert in_flight > 0 and 0 < stored_at_kill < len(pairs), (in_flight, stored_at_kill)

    # A fresh persister takes over what the dead one read but never acknowledged.
    catch_up = start_command(flask_command("signatures", "persist", "--once"), redis_server)
    assert catch_up.wait() == 0, catch_up.log()
    _assert_agree(local, redis_server, pairs, petition_ids)
    print(f"killed with {in_flight} entries in flight and {stored_at_kill} rows stored")


def test_crash_between_sql_commit_and_ack(start_redis, start_command, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    pairs, petition_ids = _fill_outbox(local, users=100, petitions=50)

    child = start_command(
        [sys.executable, "-m", "tests.reliability.crash_after_commit"], redis_server, PERSISTER_BATCH_SIZE=2000
    )
    assert child.wait() == -9, child.log()
    # The batch is in SQL, yet Redis still holds it as delivered and unacknowledged.
    assert len(sql_rows(local)) == 2000
    assert _pending(redis_server.client()) == 2000

    assert persist_all(local) == len(pairs)  # redelivers the committed batch: inserts are idempotent
    _assert_agree(local, redis_server, pairs, petition_ids)


def test_replaying_the_whole_outbox_changes_no_row_count(start_redis, local_app):
    redis_server = start_redis()
    local = local_app(redis_server, OUTBOX_RETENTION_SECONDS=86_400)
    pairs, petition_ids = _fill_outbox(local, users=100, petitions=40)
    assert persist_all(local) == len(pairs)
    rows_before = sql_rows(local)
    client = redis_server.client()
    assert client.xlen(keys.OUTBOX) == len(pairs)  # retained, so a replay has everything

    client.xgroup_setid(keys.OUTBOX, keys.OUTBOX_GROUP, id="0")  # rewind to the very start
    assert outbox_lag(local) == len(pairs)
    assert persist_all(local) == len(pairs)
    assert sorted(sql_rows(local)) == sorted(rows_before)
    _assert_agree(local, redis_server, pairs, petition_ids)
