"""Signatures held in one ReplyBatch share round trips on the real Redis, and each gets its own
answer, also when the connection drops with replies still owed."""
import threading
from datetime import datetime, timezone

import pytest

from app.domain.errors import StoreUnavailable
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import SIGN_ALREADY, SIGN_NEW, OpenPetitionStore
from app.repositories.pipelined import reply_batch
from tests.integration.support import transient_document

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(redis_client):
    store = OpenPetitionStore(redis_client)
    for pid in (1, 2):
        store.put_open(transient_document(pid, f"Petition {pid}", NOW, 30))
    return store


def sign_in_batch(batch, store, attempts, seen):
    """Starts one request per (petition, user); each records its answer and how many outbox
    entries Redis held when the answer reached it."""
    def request(pid, uid):
        try:
            answer = store.sign(pid, uid, NOW.timestamp())
        except StoreUnavailable:
            answer = "unavailable"
        seen.append(((pid, uid), answer, store.redis.xlen(keys.OUTBOX)))

    for pid, uid in attempts:
        batch.start(request, pid, uid)


def resolve(batch):
    while batch.parked:
        batch.resume_next()


def test_requests_in_a_batch_send_before_any_waits_and_each_gets_its_own_answer(store):
    attempts = [(1, 501), (2, 501), (1, 502), (1, 501), (2, 503)]
    seen = []
    with reply_batch() as batch:
        sign_in_batch(batch, store, attempts, seen)
        assert len(batch.parked) == len(attempts) and seen == []  # all queued, none answered yet
        resolve(batch)
    assert [(pair, answer) for pair, answer, _ in seen] == [
        ((1, 501), (SIGN_NEW, 1)),
        ((2, 501), (SIGN_NEW, 1)),
        ((1, 502), (SIGN_NEW, 2)),
        ((1, 501), (SIGN_ALREADY, 2)),
        ((2, 503), (SIGN_NEW, 2)),
    ]
    # Redis ran every script before the first request was resumed: one shared wait.
    assert {outbox for _, _, outbox in seen} == {4}


def test_outside_a_batch_or_on_the_hub_a_call_reads_its_own_reply(store):
    assert store.sign(1, 501, NOW.timestamp()) == (SIGN_NEW, 1)
    with reply_batch() as batch:
        assert store.sign(1, 502, NOW.timestamp()) == (SIGN_NEW, 2)  # the hub itself never parks
        assert not batch.parked


def test_a_dropped_connection_fails_every_owed_reply_and_the_next_call_reconnects(store, redis_client):
    seen = []
    with reply_batch() as batch:
        sign_in_batch(batch, store, [(1, 501), (1, 502)], seen)
        store._own_connection().reset()  # as when another request's read failed
        sign_in_batch(batch, store, [(1, 503)], seen)  # goes out on a new socket
        resolve(batch)
    answers = {pair: answer for pair, answer, _ in seen}
    assert answers[(1, 501)] == answers[(1, 502)] == "unavailable"
    # Their commands were dropped with the socket, never sent on the new one, and the third
    # request gets its own answer.
    assert answers[(1, 503)] == (SIGN_NEW, 1)
    assert redis_client.smembers(keys.signers(1)) == {b"503"}
    assert store.sign(1, 504, NOW.timestamp())[0] == SIGN_NEW


def test_a_batch_that_ends_before_it_waits_leaves_nothing_owed(store, redis_client):
    seen = []
    with reply_batch() as batch:
        sign_in_batch(batch, store, [(1, 501)], seen)
    # The worker stopped first: that request was never sent, and no later call reads a reply
    # that is not its own.
    assert seen == []
    assert store.sign(1, 502, NOW.timestamp()) == (SIGN_NEW, 1)
    with reply_batch() as batch:
        sign_in_batch(batch, store, [(2, 503)], seen)
        resolve(batch)
    assert seen == [((2, 503), (SIGN_NEW, 1), 2)]
    assert redis_client.smembers(keys.signers(1)) == {b"502"}


def test_a_batch_belongs_to_the_thread_that_opened_it(store):
    answers = []

    def other_thread():
        answers.append(store.sign(1, 601, NOW.timestamp()))

    with reply_batch():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert answers == [(SIGN_NEW, 1)]  # read by that thread itself, not parked in this batch
