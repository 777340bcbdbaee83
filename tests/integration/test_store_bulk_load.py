"""OpenPetitionStore.merge_many: the rebuild's bulk path writes the same state as launches do."""
import pytest
import redis

from app.repositories import redis_keys as keys
from app.repositories.open_petitions import SCORE_SCRIPT, OpenPetitionStore, _merge_batches


def _doc(pid, title):
    return {"id": pid, "title": title, "body": "b", "owner_name": "o", "owner_id": 1, "state": "open",
            "launched_at": "2026-06-01T12:00:00+00:00", "closes_at": "2026-07-01T12:00:00+00:00",
            "launched_ts": 1_780_000_000 + pid, "closes_ts": 1_790_000_000 - pid}


def test_merge_many_writes_documents_indexes_and_adds_to_existing_signers(redis_client):
    store = OpenPetitionStore(redis_client)
    store.sign(2, 99, 1_780_000_000)  # not yet open: refused, nothing written
    redis_client.sadd("petition:2:signers", 99)  # a signature Redis holds and SQL does not yet
    docs = [(_doc(pid, f"Petition number {pid} about trees"), list(range(1, pid + 1))) for pid in (1, 2, 3)]
    store.merge_many(docs, chunk=2)  # chunks smaller than the input

    page = store.page("signatures", 1, 10)
    assert [(d["id"], d["signature_count"]) for d in page.items] == [(3, 3), (2, 3), (1, 1)]
    assert page.total == 3
    assert [d["id"] for d in store.page("newest", 1, 10).items] == [3, 2, 1]
    assert [d["id"] for d in store.page("closing", 1, 10).items] == [3, 2, 1]
    assert [d["id"] for d in store.page("signatures", 1, 10, query="NUMBER 2").items] == [2]
    assert store.get(2)["title"] == "Petition number 2 about trees"
    assert store.has_signed(2, 99)
    assert store.sign(1, 50, 1_780_000_100) == (1, 2)


def test_bulk_load_writes_the_same_summaries_and_indexes_as_launches(redis_client):
    store = OpenPetitionStore(redis_client)
    docs = [_doc(pid, f"Petition number {pid}") for pid in (1, 2, 3)]
    for doc in docs:
        store.put_open(doc)
    launched = {key: _contents(redis_client, key) for key in keys.OPEN_INDEXES}
    redis_client.flushdb()
    store.merge_many([(doc, []) for doc in docs])
    assert {key: _contents(redis_client, key) for key in keys.OPEN_INDEXES} == launched
    assert len(launched[keys.OPEN_SUMMARIES]) == 3


def test_ranking_scores_are_right_across_script_batches_and_chunks(redis_client):
    """More petitions per chunk than one ZADD inside the scoring script takes (500)."""
    store = OpenPetitionStore(redis_client)
    docs = [(_doc(pid, f"Petition {pid}"), list(range(pid % 7))) for pid in range(1, 1_203)]
    store.merge_many(docs, chunk=1_100)
    scores = dict(redis_client.zrange(keys.OPEN_BY_SIGNATURES, 0, -1, withscores=True))
    assert {int(pid): int(score) for pid, score in scores.items()} == {pid: pid % 7 for pid in range(1, 1_203)}


def test_a_failed_bulk_load_raises_and_leaves_the_client_usable(redis_client):
    store = OpenPetitionStore(redis_client)
    redis_client.set(keys.OPEN_BY_NEWEST, "not a sorted set")
    with pytest.raises(redis.exceptions.ResponseError):
        store.merge_many([(_doc(pid, f"Petition {pid}"), [pid]) for pid in (1, 2, 3)])
    redis_client.delete(keys.OPEN_BY_NEWEST)
    store.merge_many([(_doc(4, "Petition 4"), [9])])  # replies of the failed load are not read as these
    assert [(d["id"], d["signature_count"]) for d in store.page("newest", 1, 10).items] == [(4, 1)]


def _contents(redis_client, key):
    if redis_client.type(key) == b"zset":
        return redis_client.zrange(key, 0, -1, withscores=True)
    return redis_client.hgetall(key)


def test_petitions_sql_has_no_signers_for_keep_the_counts_redis_holds(redis_client):
    """Signatures Redis holds and SQL does not yet (the signing script ranked them): across
    chunks and groups, a petition SQL gave no signers keeps its count, one it gave signers is
    counted from the merged set, and the rest rank at 0."""
    store = OpenPetitionStore(redis_client)
    for pid in (3, 700):
        store.put_open(_doc(pid, f"Petition {pid}"))
    for pid, user_id, count in ((700, 5, 1), (700, 6, 2), (3, 8, 1)):
        assert store.sign(pid, user_id, 1_780_000_100) == (1, count)
    docs = [(_doc(pid, f"Petition {pid}"), [1] if pid % 3 == 0 else []) for pid in range(1, 1_203)]
    store.merge_many(docs, chunk=400, group=1_000)
    scores = dict(redis_client.zrange(keys.OPEN_BY_SIGNATURES, 0, -1, withscores=True))
    expected = {pid: 1 if pid % 3 == 0 else 0 for pid in range(1, 1_203)}
    expected.update({700: 2, 3: 2})
    assert {int(pid): int(score) for pid, score in scores.items()} == expected
    assert redis_client.smembers(keys.signers(3)) == {b"1", b"8"}
    assert not redis_client.exists(keys.signers(701))
    assert store.page("newest", 1, 2_000).total == 1_202


def test_a_signature_recorded_while_the_load_runs_keeps_its_count(redis_client):
    """The petitions are open (the date indexes are written) before their ranking is: a
    signature in between is ranked by the signing script and the load's ranking keeps it."""
    store = OpenPetitionStore(redis_client)
    docs = [(_doc(pid, f"Petition {pid}"), [pid] if pid == 2 else []) for pid in (1, 2, 3)]
    batches = list(_merge_batches(docs, store._score.sha, 2000))
    ranking = [b for b in batches if any(c[:2] in (("ZADD", keys.OPEN_BY_SIGNATURES), ("EVALSHA", store._score.sha)) for c in b)]
    store._stream(iter([[("SCRIPT", "LOAD", SCORE_SCRIPT)]] + [b for b in batches if b not in ranking]))
    assert store.sign(1, 50, 1_780_000_100) == (1, 1)
    assert store.sign(2, 51, 1_780_000_100) == (1, 2)  # SQL's signer 2 is already in the set
    store._stream(iter(ranking))
    assert [(d["id"], d["signature_count"]) for d in store.page("signatures", 1, 10).items] == [(2, 2), (1, 1), (3, 0)]


def test_streamed_batches_are_all_applied_and_an_error_reply_still_raises(redis_client):
    """The bulk load reads replies a window of bytes behind what it sends: every reply is
    still read, an error reply raises, and the connection is not reused with replies unread."""
    store = OpenPetitionStore(redis_client)
    store._stream(iter([[("SADD", "s", i), ("INCR", "n")] for i in range(300)]), window=64)
    assert redis_client.scard("s") == 300 and redis_client.get("n") == b"300"
    redis_client.set("z", "not a set")
    with pytest.raises(redis.exceptions.ResponseError):
        store._stream(iter([[("INCR", "n")]] * 50 + [[("SADD", "z", 1)]] + [[("INCR", "n")]] * 50), window=64)
    store.merge_many([(_doc(4, "Petition 4"), [9])])
    assert [(d["id"], d["signature_count"]) for d in store.page("newest", 1, 10).items] == [(4, 1)]


def test_a_bulk_load_waits_out_a_redis_stall_longer_than_a_requests_timeout(app, redis_client):
    """Redis holds writes for 0.8 s, past the 0.5 s a request waits: the rebuild still completes."""
    assert app.config["REDIS_SOCKET_TIMEOUT"] < 0.8
    store = OpenPetitionStore(redis_client)
    redis_client.execute_command("CLIENT", "PAUSE", 800, "WRITE")
    try:
        store.merge_many([(_doc(pid, f"Petition {pid}"), [pid]) for pid in (1, 2, 3)])
    finally:
        redis_client.execute_command("CLIENT", "UNPAUSE")
    assert [d["id"] for d in store.page("newest", 1, 10).items] == [3, 2, 1]
