"""Failure test 7: a graceful gunicorn reload (SIGHUP) in the middle of a signing burst. Old
workers finish what they hold while new ones take over; no acknowledged signature may be lost."""
import threading

from tests.reliability.checks import persist_all, redis_pairs, sql_rows
from tests.reliability.load import SignDriver, mint_sessions, seed

WORKERS = 4


def test_graceful_reload_during_load_loses_nothing(start_redis, start_gunicorn, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=100, petitions=30)
    sessions = mint_sessions(local, user_ids)
    web = start_gunicorn(redis_server, workers=WORKERS, RATELIMIT_ENABLED=0)
    first_generation = web.ready_workers()
    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]
    reloaded = threading.Event()

    def reload_at_30_percent(answered):
        if not reloaded.is_set() and answered >= len(pairs) * 0.3:
            web.reload()
            reloaded.set()

    outcome = SignDriver(web.port, sessions, threads=16).run(pairs, on_progress=reload_at_30_percent)

    new_workers = web.ready_workers() - first_generation
    assert len(new_workers) == WORKERS, "the reload did not replace the workers"
    assert outcome.gave_up == []
    assert outcome.acknowledged == set(pairs)
    in_redis = redis_pairs(redis_server.client(), petition_ids)
    assert in_redis == set(pairs)
    persist_all(local)
    assert sorted(sql_rows(local)) == sorted(pairs)
    print(f"reload during {len(pairs)} signatures: {outcome.statuses}, "
          f"{outcome.connection_errors} dropped connections (retried)")
