"""Failure test 3: 100 threads sign the same petitions as the same users at the same moment.
Exactly one signature per user per petition must exist everywhere: signer sets, counts, outbox,
SQL, and exactly one "thank you" answer per pair (the others: "already signed")."""
import threading

from app.repositories import redis_keys as keys
from tests.reliability.checks import persist_all, redis_pairs, sql_rows
from tests.reliability.load import mint_sessions, seed, sign_request, signed_outcome

THREADS = 100


def test_100_threads_signing_the_same_pairs(start_redis, start_gunicorn, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=5, petitions=2)
    sessions = mint_sessions(local, user_ids)
    web = start_gunicorn(redis_server, workers=4)
    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]

    start = threading.Barrier(THREADS)
    answers = []
    lock = threading.Lock()

    def signer(offset):
        start.wait()
        mine = []
        for pid, uid in pairs[offset:] + pairs[:offset]:  # each thread starts at another pair
            status, answer, _ = sign_request(web.port, sessions[uid], pid, uid)
            mine.append((status, signed_outcome(answer)))
        with lock:
            answers.extend(mine)

    threads = [threading.Thread(target=signer, args=(i % len(pairs),)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == THREADS * len(pairs)
    assert {status for status, _ in answers} == {303}
    thanks = [outcome for _, outcome in answers if outcome == "new"]
    already = [outcome for _, outcome in answers if outcome == "again"]
    assert len(thanks) == len(pairs)
    assert len(already) == len(answers) - len(pairs)

    client = redis_server.client()
    assert redis_pairs(client, petition_ids) == set(pairs)
    assert client.xlen(keys.OUTBOX) == len(pairs)
    for pid in petition_ids:
        assert client.zscore(keys.OPEN_BY_SIGNATURES, pid) == len(user_ids)
    persist_all(local)
    rows = sql_rows(local)
    assert sorted(rows) == sorted(pairs)
    print(f"{THREADS} threads x {len(pairs)} pairs: {len(thanks)} thank-you answers, {len(already)} "
          f"already-signed, {len(rows)} rows in SQL")
