"""Failure test: the replica is gone while the primary is up (Sentinel, primary + replica).

With REDIS_MIN_REPLICAS_ACK=1 signing answers 503 "not recorded, safe to try again" within about
a second, the signature that landed anyway is there (already signed) when the user tries again,
and signing recovers once the replica is back, without a restart. With the setting at 0 signing
carries on throughout.
"""
from app.repositories import redis_keys as keys
from app.web import wiring
from tests.reliability.load import mint_sessions, seed, sign_request, signed_outcome
from deploy.redis_ha import ReplicatedRedis
from tests.reliability.procs import wait_until

LIMIT = 1.0  # REDIS_REPLICA_ACK_TIMEOUT (0.3 s) and the request around it


def test_replica_down_refuses_fast_then_recovers(start_replicated_redis, start_gunicorn, local_app):
    group = start_replicated_redis()
    local = local_app(group)
    user_ids, [petition] = seed(local, users=12, petitions=1)
    sessions = mint_sessions(local, user_ids)
    waiting = start_gunicorn(group, workers=2, REDIS_MIN_REPLICAS_ACK=1)
    single = start_gunicorn(group, workers=2, REDIS_MIN_REPLICAS_ACK=0)
    users = iter(user_ids)

    def sign(web, uid):
        return sign_request(web.port, sessions[uid], petition, uid)

    healthy = [sign(waiting, next(users)) for _ in range(3)]
    assert [status for status, _, _ in healthy] == [303] * 3

    group.replica.kill9()
    refused_users = [next(users) for _ in range(3)]
    refused = [sign(waiting, uid) for uid in refused_users]
    for status, answer, elapsed in refused:
        assert status == 503, answer[:300]
        assert b"not recorded, it is safe to try again." in answer
        assert elapsed < LIMIT, f"answered after {elapsed:.2f}s"
    # The primary took them; only the confirmation was missing.
    assert all(group.primary.client().sismember(keys.signers(petition), uid) for uid in refused_users)
    carried_on = [sign(single, next(users)) for _ in range(3)]
    assert [status for status, _, _ in carried_on] == [303] * 3

    group.replica.start()
    wait_until(lambda: ReplicatedRedis.replicas_online(group.primary) == 1, timeout=30, what="the replica back in sync")
    again = [sign(waiting, uid) for uid in refused_users]
    assert [(status, signed_outcome(answer)) for status, answer, _ in again] == [(303, "again")] * 3
    status, answer, _ = sign(waiting, next(users))
    assert (status, signed_outcome(answer)) == (303, "new")
    print(f"replica down: 503 in {max(e for _, _, e in refused):.3f} s at most")


def test_the_rebuild_through_sentinel_writes_to_the_primary(start_replicated_redis, local_app):
    """The bulk load streams on a connection of its own: it must find the primary through the
    sentinels like every other connection, not fall back to a default address."""
    group = start_replicated_redis()
    local = local_app(group)
    _, petition_ids = seed(local, users=3, petitions=5, open_in_redis=False)
    with local.app_context():
        assert wiring.services().restore_index()
    primary = group.primary.client()
    assert {int(pid) for pid in primary.zrange(keys.OPEN_BY_CLOSING, 0, -1)} == set(petition_ids)
    wait_until(lambda: group.replica.client().zcard(keys.OPEN_BY_CLOSING) == 5, what="the replica to have them")
