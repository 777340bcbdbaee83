"""A burst of cold signers through the signing form (no JavaScript), through nginx and
production's gunicorn: people who signed in an hour ago and read the petition for minutes, so no
user card is cached and every post loads its user from the users DB. Nothing may fail, nothing
may be lost, and PostgreSQL's connections must stay within its default max_connections (100)."""
from bench.pg_connections import ConnectionSampler
from tests.reliability.checks import persist_all, redis_pairs, sql_rows
from tests.reliability.load import SignDriver, mint_sessions, seed
from tests.reliability.procs import app_env

MAX_CONNECTIONS = 100  # PostgreSQL's default


def test_a_burst_of_cold_signers_through_the_form_never_fails(start_redis, start_stack, local_app):
    redis_server = start_redis(appendfsync="everysec")
    local = local_app(redis_server)
    user_ids, petition_ids = seed(local, users=1000, petitions=2)
    sessions = mint_sessions(local, user_ids)
    assert not list(redis_server.client().scan_iter("user:*:card"))  # every signer is cold
    stack = start_stack(redis_server, WEB_CONCURRENCY=8, RATELIMIT_ENABLED=0)
    env = app_env(redis_server.url)
    pairs = [(pid, uid) for uid in user_ids for pid in petition_ids]
    with ConnectionSampler([env["DATABASE_URL"], env["USERS_DATABASE_URL"]]) as sampler:
        outcome = SignDriver(int(stack.url.rsplit(":", 1)[1]), sessions, threads=128, retries=0).run(pairs)
    print(f"{len(pairs)} cold signatures through nginx: answers {outcome.statuses}, "
          f"{sampler.most} PostgreSQL connections at most")
    assert outcome.statuses == {303: len(pairs)} and outcome.connection_errors == 0
    assert "WORKER TIMEOUT" not in stack.log("gunicorn-0")
    assert sampler.most <= MAX_CONNECTIONS
    persist_all(local)
    assert redis_pairs(redis_server.client(), petition_ids) == set(pairs)
    assert sorted(sql_rows(local)) == sorted(pairs)
