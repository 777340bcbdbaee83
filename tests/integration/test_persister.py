"""The persister moves the Redis outbox into SQL: batched, idempotent, acknowledged after commit."""
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.web import wiring
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Signature
from app.repositories.outbox import Outbox
from app.repositories.petitions_sql import SignatureRepository
from tests.integration.support import make_open, make_user

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def petitions(app):
    owner = make_user(app, "owner@example.com")
    return make_open(app, owner, "First petition title"), make_open(app, owner, "Second petition title")


def sign_many(petition_id, users):
    store = wiring.open_store()
    for user in users:
        store.sign(petition_id, user, NOW.timestamp())


def sql_rows():
    db.session.rollback()  # see other sessions' commits
    return sorted(db.session.execute(select(Signature.petition_id, Signature.user_id)).all())


def row_count():
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Signature))


def test_batches_go_into_sql_with_their_signing_time(ctx, petitions):
    first, second = petitions
    sign_many(first, range(1, 6))
    sign_many(second, [1, 2])
    persister = wiring.persister(consumer="a")
    persister.batch_size = 3
    assert [persister.run_batch(), persister.run_batch(), persister.run_batch()] == [3, 3, 1]
    assert persister.run_batch() == 0
    assert sql_rows() == [(first, u) for u in range(1, 6)] + [(second, 1), (second, 2)]
    stamps = db.session.scalars(select(Signature.signed_at)).all()
    assert {s.astimezone(timezone.utc) for s in stamps} == {NOW}


def test_outbox_lag_falls_to_zero_once_persisted(ctx, petitions):
    sign_many(petitions[0], range(10))
    persister = wiring.persister(consumer="a")
    outbox = Outbox(wiring.redis_client())
    assert outbox.lag() == 10
    assert persister.drain() == 10
    assert outbox.lag() == 0
    assert wiring.redis_client().xpending(keys.OUTBOX, keys.OUTBOX_GROUP)["pending"] == 0


def group_counts():
    """(entries delivered to the persisters' group, of them still unacknowledged)."""
    group = wiring.redis_client().xinfo_groups(keys.OUTBOX)[0]
    return group["entries-read"], group["pending"]


def test_drain_reads_the_next_batch_while_writing_a_full_one(ctx, petitions):
    sign_many(petitions[0], range(250))
    persister = wiring.persister(consumer="a")
    persister.batch_size = 100
    insert, seen_while_writing = persister.signatures.insert_ignoring_duplicates, []

    def insert_watching_the_outbox(rows):
        if not seen_while_writing:  # the first batch: wait (up to 5 s) for the second to be read
            deadline = time.monotonic() + 5
            while group_counts()[0] < 200 and time.monotonic() < deadline:
                time.sleep(0.005)
            seen_while_writing.append(group_counts())
        return insert(rows)

    persister.signatures.insert_ignoring_duplicates = insert_watching_the_outbox
    assert persister.drain() == 250  # every entry once: a read ahead never takes back a batch
    assert seen_while_writing == [(200, 200)]  # read ahead, nothing acknowledged yet
    assert row_count() == 250
    assert group_counts() == (250, 0)


def test_drain_bounded_by_batches_reads_nothing_beyond_them(ctx, petitions):
    sign_many(petitions[0], range(250))
    persister = wiring.persister(consumer="timer")
    persister.batch_size = 100
    assert persister.drain(max_batches=2) == 200
    assert group_counts() == (200, 0)  # no third batch left delivered and unacknowledged
    assert persister.drain() == 50


def test_drain_with_full_batches_still_claims_a_crashed_consumers_entries(ctx, petitions):
    sign_many(petitions[0], range(30))
    outbox = Outbox(wiring.redis_client())
    outbox.ensure_group()
    outbox.read("crashed", count=30)
    sign_many(petitions[1], range(200))
    persister = wiring.persister(consumer="survivor")
    persister.batch_size = 100
    assert persister.drain() == 230
    assert row_count() == 230
    assert group_counts()[1] == 0


def test_stopping_writes_the_batch_already_read_ahead(ctx, petitions):
    sign_many(petitions[0], range(300))
    persister = wiring.persister(consumer="a")
    persister.batch_size = 100
    stop, ack = threading.Event(), persister.outbox.ack

    def ack_then_stop(entry_ids, retention_ms=0):
        ack(entry_ids, retention_ms)
        stop.set()  # asked to stop once the first batch is in

    persister.outbox.ack = ack_then_stop
    persister.run_forever(stop)
    assert row_count() == 200  # the first batch and the one read ahead of the stop
    assert group_counts() == (200, 0)  # nothing left delivered and unacknowledged


def test_lag_is_zero_before_anything_was_ever_signed(ctx):
    assert Outbox(wiring.redis_client()).lag() == 0
    assert Outbox(wiring.redis_client()).lag_seconds() == 0.0


def test_lag_in_seconds_is_the_age_of_the_oldest_entry_sql_lacks(ctx):
    redis = wiring.redis_client()
    outbox = Outbox(redis)
    outbox.ensure_group()
    assert outbox.lag_seconds() == 0.0
    seconds, micros = redis.time()
    now_ms = seconds * 1000 + micros // 1000
    older, newer = f"{now_ms - 3000}-0", f"{now_ms - 1000}-0"
    for entry_id in (older, newer):  # added 3 s and 1 s ago
        redis.xadd(keys.OUTBOX, {"p": "1", "u": "1", "t": "0"}, id=entry_id)
    assert 3.0 <= outbox.lag_seconds() < 4.0  # neither delivered yet
    outbox.read("a", count=1)
    assert 3.0 <= outbox.lag_seconds() < 4.0  # the older one is pending
    redis.xack(keys.OUTBOX, keys.OUTBOX_GROUP, older)
    assert 1.0 <= outbox.lag_seconds() < 2.0  # the newer one was never delivered
    outbox.read("a", count=1)
    redis.xack(keys.OUTBOX, keys.OUTBOX_GROUP, newer)
    assert outbox.lag_seconds() == 0.0


def test_before_any_persister_made_its_group_every_entry_counts_as_waiting(ctx):
    redis = wiring.redis_client()
    seconds, micros = redis.time()
    redis.xadd(keys.OUTBOX, {"p": "1", "u": "1", "t": "0"}, id=f"{seconds * 1000 + micros // 1000 - 2000}-0")
    outbox = Outbox(redis)  # no ensure_group: signing writes the stream, the persister the group
    assert outbox.lag() == 1
    assert 2.0 <= outbox.lag_seconds() < 3.0


def test_replaying_the_same_entries_adds_no_rows(ctx, petitions):
    sign_many(petitions[0], range(5))
    redis = wiring.redis_client()
    entries = redis.xrange(keys.OUTBOX)
    persister = wiring.persister(consumer="a")
    persister.drain()
    for _, fields in entries:  # the same signatures arrive again (a replay)
        redis.xadd(keys.OUTBOX, fields)
    assert persister.drain() == 5
    assert row_count() == 5


def test_crash_between_commit_and_ack_leaves_no_duplicates(ctx, petitions):
    sign_many(petitions[0], range(8))
    outbox = Outbox(wiring.redis_client())
    outbox.ensure_group()
    # Consumer "crashed" reads and commits its batch, then dies before acknowledging.
    entries = outbox.read("crashed", count=100)
    SignatureRepository(db.session).insert_ignoring_duplicates(
        [{"petition_id": e.petition_id, "user_id": e.user_id, "signed_at": e.signed_at} for e in entries]
    )
    db.session.commit()
    assert outbox.lag() == 8  # still pending: SQL has them, Redis does not know yet

    survivor = wiring.persister(consumer="survivor")
    assert survivor.drain() == 8  # claims the dead consumer's pending entries
    assert row_count() == 8
    assert outbox.lag() == 0


def test_idle_pending_entries_of_another_consumer_are_claimed(ctx, petitions):
    sign_many(petitions[0], range(4))
    outbox = Outbox(wiring.redis_client())
    outbox.ensure_group()
    assert len(outbox.read("gone", count=100)) == 4

    other = wiring.persister(consumer="other")
    # Fresh entries still belong to their reader.
    assert other.run_batch(claim_idle_ms=60_000) == 0
    assert row_count() == 0
    # Idle ones (threshold 0 here instead of waiting) are taken over and persisted.
    assert other.run_batch(claim_idle_ms=0) == 4
    assert row_count() == 4
    consumers = {c["name"]: c["pending"] for c in wiring.redis_client().xinfo_consumers(keys.OUTBOX, keys.OUTBOX_GROUP)}
    assert consumers.get(b"gone", 0) == 0 and consumers[b"other"] == 0


def test_sql_failure_leaves_entries_pending_for_a_retry(ctx, petitions):
    sign_many(petitions[0], [1, 2])
    redis = wiring.redis_client()
    redis.xadd(keys.OUTBOX, {"p": "999999", "u": "1", "t": str(NOW.timestamp())})  # no such petition
    persister = wiring.persister(consumer="a")
    with pytest.raises(Exception):
        persister.run_batch()
    assert row_count() == 0  # the batch was rolled back as a whole
    assert Outbox(redis).lag() == 3


def test_entries_signed_before_the_group_existed_are_not_skipped(ctx, petitions):
    sign_many(petitions[0], [1, 2, 3])  # the outbox stream exists, the group does not yet
    assert not wiring.redis_client().xinfo_groups(keys.OUTBOX)
    assert wiring.persister(consumer="late").drain() == 3
    assert row_count() == 3


def test_portable_insert_path_skips_stored_pairs(ctx, petitions):
    """The SQL Server path (no ON CONFLICT), run here against PostgreSQL."""
    first, second = petitions
    repo = SignatureRepository(db.session)
    rows = [{"petition_id": first, "user_id": u, "signed_at": NOW} for u in (1, 2)]
    assert repo._insert_missing(rows) == rows
    db.session.commit()
    more = rows + [{"petition_id": second, "user_id": 1, "signed_at": NOW}]
    assert repo._insert_missing(more) == more[2:]
    db.session.commit()
    assert sql_rows() == [(first, 1), (first, 2), (second, 1)]


def test_duplicates_inside_one_batch_are_written_once(ctx, petitions):
    rows = [{"petition_id": petitions[0], "user_id": 5, "signed_at": NOW}] * 3
    assert SignatureRepository(db.session).insert_ignoring_duplicates(rows) == 1
    db.session.commit()
    assert row_count() == 1
