"""OpenPetitionStore on the real Redis: the signing script, rankings, sorts, pages, search, counts."""
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import redis

from app.domain.errors import StoreUnavailable
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import (
    SIGN_ALREADY,
    SIGN_ENDED,
    SIGN_INDEX_LOST,
    SIGN_NEW,
    SIGN_NOT_OPEN,
    SIGN_PAST_DEADLINE,
    SIGN_RATE_LIMITED,
    DETAIL_FIELDS,
    SUMMARY_FIELDS,
    OpenPetitionStore,
)
from app.services.sign_limits import SignLimits
from tests.integration.support import transient_document

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(redis_client):
    return OpenPetitionStore(redis_client)


def put(store, pid, title="A petition about something", launched=T0, days=30):
    doc = transient_document(pid, title, launched, days)
    store.put_open(doc)
    return doc


def now_ts(moment=T0):
    return moment.timestamp()


# -- the signing script ----------------------------------------------------------------------
def test_new_signer_is_added_ranked_and_queued_for_sql(store, redis_client):
    put(store, 1)
    assert store.sign(1, 501, now_ts()) == (SIGN_NEW, 1)
    assert redis_client.smembers(keys.signers(1)) == {b"501"}
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, 1) == 1
    [(_, fields)] = redis_client.xrange(keys.OUTBOX)
    assert fields == {b"p": b"1", b"u": b"501", b"t": str(now_ts()).encode(), b"i": b"", b"d": b"", b"o": b""}


def test_second_signature_by_the_same_person_changes_nothing(store, redis_client):
    put(store, 1)
    store.sign(1, 501, now_ts())
    store.sign(1, 502, now_ts())
    assert store.sign(1, 501, now_ts()) == (SIGN_ALREADY, 2)
    assert redis_client.scard(keys.signers(1)) == 2
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, 1) == 2
    assert redis_client.xlen(keys.OUTBOX) == 2


def test_signing_goes_on_after_redis_drops_the_connection_or_forgets_the_script(store, redis_client):
    put(store, 1)
    assert store.sign(1, 501, now_ts()) == (SIGN_NEW, 1)
    # A restart or an idle timeout: every connection but the killer's own is dropped.
    killer = redis.Redis(connection_pool=redis.ConnectionPool(**redis_client.connection_pool.connection_kwargs))
    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1
    killer.close()
    assert store.sign(1, 502, now_ts()) == (SIGN_NEW, 2)
    redis_client.script_flush()
    assert store.sign(1, 503, now_ts()) == (SIGN_NEW, 3)
    assert store.sign(1, 503, now_ts()) == (SIGN_ALREADY, 3)
    assert redis_client.xlen(keys.OUTBOX) == 3


def test_petition_not_in_the_open_index_is_refused_without_side_effects(store, redis_client):
    store.mark_ready("complete")
    assert store.sign(7, 501, now_ts()) == (SIGN_NOT_OPEN, 0)
    assert not redis_client.exists(keys.signers(7))
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, 7) is None
    assert redis_client.xlen(keys.OUTBOX) == 0


def test_signing_at_the_deadline_is_refused_and_reports_the_count(store, redis_client):
    doc = put(store, 1, days=1)
    store.sign(1, 501, now_ts())
    deadline = doc["closes_ts"]
    assert store.sign(1, 502, deadline) == (SIGN_PAST_DEADLINE, 1)
    assert store.sign(1, 502, deadline + 3600) == (SIGN_PAST_DEADLINE, 1)
    assert redis_client.scard(keys.signers(1)) == 1
    assert redis_client.xlen(keys.OUTBOX) == 1


def test_signing_just_before_the_deadline_counts(store):
    doc = put(store, 1, days=1)
    assert store.sign(1, 502, doc["closes_ts"] - 0.001) == (SIGN_NEW, 1)


def test_removed_petition_can_no_longer_be_signed_and_leaves_no_keys(store, redis_client):
    put(store, 1)
    store.sign(1, 501, now_ts())
    store.mark_ready("complete")
    store.remove_open(1)
    assert store.sign(1, 502, now_ts()) == (SIGN_NOT_OPEN, 0)
    assert store.get(1) is None and store.count(1) is None
    for index in (keys.OPEN_BY_SIGNATURES, keys.OPEN_BY_NEWEST, keys.OPEN_BY_CLOSING):
        assert redis_client.zscore(index, 1) is None
    assert not redis_client.hexists(keys.OPEN_TITLES, 1)
    assert not redis_client.hexists(keys.OPEN_SUMMARIES, 1)
    assert not redis_client.exists(keys.petition_doc(1), keys.signers(1))


def test_removing_a_petition_also_removes_the_whole_document_earlier_releases_kept(store, redis_client):
    doc = put(store, 1)
    redis_client.set(keys.legacy_petition_doc(1), orjson.dumps(doc))  # launched before v3
    store.remove_open(1)
    assert not redis_client.exists(keys.legacy_petition_doc(1), keys.petition_doc(1))


def test_limits_are_counted_refusals_included_and_refuse_past_the_limit(store, redis_client):
    put(store, 1)
    put(store, 2)
    counters = SignLimits("2 per minute", "100 per minute").counters(501, "10.0.0.1")
    assert store.sign(1, 501, now_ts(), counters) == (SIGN_NEW, 1)
    assert store.sign(1, 501, now_ts(), counters) == (SIGN_ALREADY, 1)
    assert store.sign(2, 501, now_ts(), counters) == (SIGN_RATE_LIMITED, 0)
    assert redis_client.scard(keys.signers(2)) == 0 and redis_client.xlen(keys.OUTBOX) == 1
    user_key, ip_key = keys.sign_rate("user", 501), keys.sign_rate("ip", "10.0.0.1")
    assert int(redis_client.get(user_key)) == 3 and int(redis_client.get(ip_key)) == 3
    assert 0 < redis_client.ttl(user_key) <= 60


def test_the_ip_limit_covers_every_user_behind_it(store):
    put(store, 1)
    limits = SignLimits("100 per minute", "2 per minute")
    answers = [store.sign(1, user, now_ts(), limits.counters(user, "10.0.0.2"))[0] for user in (501, 502, 503)]
    assert answers == [SIGN_NEW, SIGN_NEW, SIGN_RATE_LIMITED]
    assert store.sign(1, 504, now_ts(), limits.counters(504, "10.0.0.3"))[0] == SIGN_NEW


def test_limits_switched_off_count_nothing(store, redis_client):
    put(store, 1)
    counters = SignLimits("1 per minute", "1 per minute", enabled=False).counters(501, "10.0.0.1")
    assert counters == ()
    assert store.sign(1, 501, now_ts(), counters) == (SIGN_NEW, 1)
    assert redis_client.keys("rate:*") == []


def test_a_petition_that_stopped_signing_is_refused_as_ended_even_without_an_index(store, redis_client):
    put(store, 1)
    store.sign(1, 501, now_ts())
    store.stop_signing(1)
    assert store.sign(1, 502, now_ts()) == (SIGN_ENDED, 0)
    store.remove_open(1)
    assert store.sign(1, 502, now_ts()) == (SIGN_ENDED, 0)
    assert redis_client.scard(keys.signers(1)) == 0 and redis_client.xlen(keys.OUTBOX) == 1


def test_an_unknown_petition_is_told_apart_from_a_lost_index(store, redis_client):
    assert store.sign(7, 501, now_ts()) == (SIGN_INDEX_LOST, 0)  # an empty Redis cannot tell
    store.mark_ended({5: "closed", 6: "taken_down"})
    store.mark_ready("complete")
    assert store.sign(7, 501, now_ts()) == (SIGN_NOT_OPEN, 0)
    assert store.sign(6, 501, now_ts()) == (SIGN_ENDED, 0)
    assert (store.ended_as(5), store.ended_as(6), store.ended_as(7)) == ("closed", "taken_down", None)
    assert redis_client.keys("petition:*:signers") == [] and redis_client.xlen(keys.OUTBOX) == 0


def test_sign_many_runs_the_script_for_each_pair(store, redis_client):
    put(store, 1)
    assert store.sign_many([(1, 501), (1, 502), (1, 501), (9, 503)], now_ts(), chunk=2) == 2
    assert redis_client.scard(keys.signers(1)) == 2 and redis_client.xlen(keys.OUTBOX) == 2


# -- reads -----------------------------------------------------------------------------------
def test_launch_writes_a_summary_that_list_pages_read_with_the_live_count(store, redis_client):
    doc = put(store, 4, title="Plant more trees in towns")
    store.sign(4, 1, now_ts())
    summary = {"id": 4, "title": "Plant more trees in towns", "state": "open",
               "launched_at": doc["launched_at"], "closes_at": doc["closes_at"]}
    assert orjson.loads(redis_client.hget(keys.OPEN_SUMMARIES, 4)) == summary
    for query in (None, "trees"):  # the page script and the search path
        assert store.page("signatures", 1, 50, query).items == [{**summary, "signature_count": 1}]


def test_petition_closed_between_the_index_and_summary_reads_is_left_out(three, redis_client):
    redis_client.hdel(keys.OPEN_SUMMARIES, 2)  # what remove_open does after a reader found the id
    for query in (None, "petition"):
        assert [d["id"] for d in three.page("signatures", 1, 50, query).items] == [1, 3]


def test_an_error_reply_in_a_page_read_leaves_no_reply_for_the_next_read(three, redis_client):
    """A page sends two commands at once; when the first answers with an error, the second's
    reply must not be read as the answer to whatever the connection is asked next."""
    ranking = redis_client.dump(keys.OPEN_BY_SIGNATURES)
    redis_client.delete(keys.OPEN_BY_SIGNATURES)
    redis_client.set(keys.OPEN_BY_SIGNATURES, "not a sorted set")
    with pytest.raises(redis.exceptions.ResponseError):
        three.page("signatures", 1, 50)
    redis_client.delete(keys.OPEN_BY_SIGNATURES)
    redis_client.restore(keys.OPEN_BY_SIGNATURES, 0, ranking)
    assert [d["id"] for d in three.page("newest", 1, 50).items] == [3, 2, 1]
    assert three.page("signatures", 1, 2).total == 3


def test_get_returns_what_the_page_shows_with_the_live_count(store, redis_client):
    doc = put(store, 3, title="Plant more trees in towns")
    store.sign(3, 1, now_ts())
    store.sign(3, 2, now_ts())
    got = store.get(3)
    assert got == {**{field: doc[field] for field in SUMMARY_FIELDS + DETAIL_FIELDS if field in doc}, "signature_count": 2, "removed_signatures": 0}
    # The document key holds only what the summary lacks.
    assert orjson.loads(redis_client.get(keys.petition_doc(3))) == {"body": doc["body"], "owner_name": doc["owner_name"]}


def test_get_is_none_while_the_summary_or_the_document_is_missing(store, redis_client):
    put(store, 3)
    put(store, 4)
    redis_client.hdel(keys.OPEN_SUMMARIES, 3)  # a close in progress, or a load not yet there
    redis_client.delete(keys.petition_doc(4))
    assert store.get(3) is None and store.get(4) is None


def test_count_distinguishes_open_with_zero_from_not_open(store):
    put(store, 1)
    assert store.count(1) == 0
    assert store.count(2) is None


def test_counts_and_has_signed(store):
    put(store, 1)
    put(store, 2)
    store.sign(1, 10, now_ts())
    store.sign(1, 11, now_ts())
    store.sign(2, 10, now_ts())
    assert store.counts([1, 2, 3]) == {1: 2, 2: 1, 3: 0}
    assert store.counts([]) == {}
    assert store.has_signed(2, 10) and not store.has_signed(2, 11)


@pytest.fixture
def three(store):
    """Three open petitions with distinct launch times, deadlines and counts."""
    put(store, 1, "Alpha petition about libraries", launched=T0, days=90)
    put(store, 2, "Bravo petition about parks", launched=T0 + timedelta(days=1), days=10)
    put(store, 3, "Charlie petition about libraries", launched=T0 + timedelta(days=2), days=30)
    for user in range(3):
        store.sign(2, user, now_ts(T0 + timedelta(days=3)))
    store.sign(1, 99, now_ts(T0 + timedelta(days=3)))
    return store


@pytest.mark.parametrize(
    ("sort", "order"),
    [("signatures", [2, 1, 3]), ("newest", [3, 2, 1]), ("closing", [2, 3, 1])],
)
def test_sort_orders(three, sort, order):
    page = three.page(sort, 1, 50)
    assert [doc["id"] for doc in page.items] == order
    assert page.total == 3
    assert {doc["id"]: doc["signature_count"] for doc in page.items} == {1: 1, 2: 3, 3: 0}


def test_pagination_splits_the_sorted_list(three):
    first, second, beyond = (three.page("newest", n, 2) for n in (1, 2, 3))
    assert [d["id"] for d in first.items] == [3, 2]
    assert [d["id"] for d in second.items] == [1]
    assert beyond.items == [] and beyond.total == 3


def test_title_search_needs_every_word_and_ignores_case(three):
    assert [d["id"] for d in three.page("newest", 1, 50, "LIBRARIES").items] == [3, 1]
    assert [d["id"] for d in three.page("newest", 1, 50, "charlie libraries").items] == [3]
    assert three.page("newest", 1, 50, "libraries parks").items == []


def test_search_results_follow_the_sort_and_paginate(three):
    assert [d["id"] for d in three.page("signatures", 1, 50, "petition").items] == [2, 1, 3]
    second = three.page("closing", 2, 1, "libraries")
    assert [d["id"] for d in second.items] == [1] and second.total == 2


def test_open_and_due_ids(three):
    assert sorted(three.open_ids()) == [1, 2, 3]
    assert three.due_ids(now_ts(T0 + timedelta(days=11))) == [2]
    assert three.due_ids(now_ts(T0)) == []


def test_signer_ids_streams_the_whole_set_in_chunks(store):
    put(store, 1)
    for user in range(25):
        store.sign(1, user, now_ts())
    chunks = list(store.signer_ids(1, batch=10))
    assert sorted(uid for chunk in chunks for uid in chunk) == list(range(25))
    assert all(len(chunk) <= 10 for chunk in chunks)


def test_rebuild_lock_is_exclusive_and_released_only_by_its_holder(store, redis_client):
    assert store.acquire_lock(keys.REBUILD_LOCK, "a", 60_000)
    assert not store.acquire_lock(keys.REBUILD_LOCK, "b", 60_000)
    store.release_lock(keys.REBUILD_LOCK, "b")  # not the holder: no effect
    assert not store.acquire_lock(keys.REBUILD_LOCK, "b", 60_000)
    store.release_lock(keys.REBUILD_LOCK, "a")
    assert store.acquire_lock(keys.REBUILD_LOCK, "b", 60_000)


# -- replica acknowledgement (REDIS_MIN_REPLICAS_ACK) ------------------------------------------
def test_a_signature_no_replica_confirms_is_refused_as_not_recorded_yet_kept(redis_client):
    """This Redis has no replica, so a store asking for one hears 0 confirmations within its
    timeout: the answer is "not recorded, safe to try again", and the try again finds it signed."""
    waiting = OpenPetitionStore(redis_client, min_replica_acks=1, replica_ack_timeout=0.05)
    put(waiting, 1)
    limits = SignLimits("100 per minute", "100 per minute").counters(501, "10.0.0.1")
    with pytest.raises(StoreUnavailable, match="not recorded, it is safe to try again"):
        waiting.sign(1, 501, now_ts(), limits)
    assert redis_client.sismember(keys.signers(1), 501)
    # A repeat is confirmed too (its rate-limit counts are writes the WAIT covers): still refused.
    with pytest.raises(StoreUnavailable):
        waiting.sign(1, 501, now_ts(), limits)
    assert OpenPetitionStore(redis_client).sign(1, 501, now_ts()) == (SIGN_ALREADY, 1)


def test_refusals_need_no_replica(redis_client):
    waiting = OpenPetitionStore(redis_client, min_replica_acks=1, replica_ack_timeout=0.05)
    assert waiting.sign(404, 501, now_ts()) == (SIGN_INDEX_LOST, 0)


def test_replica_acknowledged_signing_reloads_a_flushed_script_cache(redis_client):
    """A primary promoted by a failover starts with no scripts loaded."""
    put(OpenPetitionStore(redis_client), 1)
    redis_client.script_flush()
    waiting = OpenPetitionStore(redis_client, min_replica_acks=1, replica_ack_timeout=0.05)
    with pytest.raises(StoreUnavailable):
        waiting.sign(1, 501, now_ts())
    assert redis_client.sismember(keys.signers(1), 501)
