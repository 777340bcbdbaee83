"""The `flask` commands: persist the outbox, rebuild Redis, load demo data."""
import re
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import func, select

from app.web import wiring
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Petition, Signature, User
from tests.integration.support import make_open, make_user

NOW = datetime.now(timezone.utc)


def sign_some(app, petition_id, users):
    with app.app_context():
        for user in users:
            wiring.open_store().sign(petition_id, user, NOW.timestamp())


def run(app, *args):
    """Like `flask ARGS`: the real CLI pushes the app context that app.cli alone does not."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def rows(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_signatures_persist_once_drains_the_outbox(app):
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    sign_some(app, petition_id, range(7))
    result = run(app, "signatures", "persist", "--once")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "persisted 7 outbox entries"
    assert rows(app, Signature) == 7
    again = run(app, "signatures", "persist", "--once")
    assert again.output.strip() == "persisted 0 outbox entries"


def test_signatures_lag_says_how_far_sql_trails(app):
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    assert run(app, "signatures", "lag").output.startswith("0 outbox entries not yet in SQL")
    sign_some(app, petition_id, range(3))
    waiting = run(app, "signatures", "lag")
    assert waiting.exit_code == 0, waiting.output
    assert re.fullmatch(r"3 outbox entries not yet in SQL; the oldest waited \d+\.\d s\n", waiting.output)
    run(app, "signatures", "persist", "--once")
    assert run(app, "signatures", "lag").output == "0 outbox entries not yet in SQL; the oldest waited 0.0 s\n"


class StopAfter(threading.Event):
    """A stop signal that reports 'set' after a given number of checks, so run_forever can be
    driven a fixed number of rounds without waiting on time."""

    def __init__(self, rounds):
        super().__init__()
        self.rounds = rounds
        self.waits = []  # what the loop asked to wait, answered at once

    def is_set(self):
        self.rounds -= 1
        return self.rounds < 0

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return False


def test_the_long_running_persister_loop_persists_batch_after_batch(app):
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    sign_some(app, petition_id, range(5))
    with app.app_context():
        persister = wiring.persister(consumer="loop")
        persister.batch_size = 2
        persister.run_forever(StopAfter(3), block_ms=1)
    assert rows(app, Signature) == 5


def test_the_persister_lingers_after_a_part_full_batch_only(app):
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    sign_some(app, petition_id, range(5))
    stop = StopAfter(4)
    with app.app_context():
        persister = wiring.persister(consumer="loop")
        persister.batch_size, persister.linger_s = 2, 0.25
        persister.run_forever(stop, block_ms=1)
    assert rows(app, Signature) == 5
    assert stop.waits == [0.25]  # batches of 2, 2 (full: straight on), 1 (lingers), then none


def test_an_idle_persister_waits_without_errors_and_wakes_for_new_signatures(app, caplog):
    """Its blocking read must end within the Redis client's socket timeout: when it did not, every
    idle wait ended in a logged timeout and a second's back-off before new signatures were read."""
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    assert app.config["REDIS_SOCKET_TIMEOUT"] == 0.5
    stop = threading.Event()
    with app.app_context():
        persister = wiring.persister(consumer="idle")
    assert persister.block_ms == 250

    def loop():
        with app.app_context():
            persister.run_forever(stop)

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        time.sleep(1.2)  # idle for more than twice the socket timeout
        sign_some(app, petition_id, range(3))
        deadline = time.monotonic() + 0.6
        while rows(app, Signature) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rows(app, Signature) == 3
    finally:
        stop.set()
        worker.join()
    assert "persister batch failed" not in caplog.text


def test_redis_rebuild_command_restores_open_petitions(app, redis_client):
    petition_id = make_open(app, make_user(app, "owner@example.com"))
    sign_some(app, petition_id, [1, 2])
    run(app, "signatures", "persist", "--once")
    redis_client.flushdb()
    result = run(app, "redis", "rebuild")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "rebuilt 1 open petitions"
    assert redis_client.scard(keys.signers(petition_id)) == 2
    assert redis_client.exists(keys.petition_doc(petition_id), keys.INDEX_READY) == 2


def test_demo_load_creates_users_petitions_and_signatures_once(app, client):
    first = run(app, "demo", "load")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "demo data loaded"
    assert rows(app, User) == 3
    with app.app_context():
        states = dict(db.session.execute(select(Petition.state, func.count()).group_by(Petition.state)).all())
    assert states == {"open": 5, "draft": 1}
    listed = client.get("/api/petitions?sort=closing").get_json()
    assert listed["meta"]["total"] == 5
    assert listed["data"][0]["title"] == "Keep the village library open on Saturdays"  # the one closing soon
    assert rows(app, Signature) == sum(item["signature_count"] for item in listed["data"])
    assert run(app, "demo", "load").output.strip() == "demo data already present"
    assert rows(app, User) == 3


def test_counts_publish_refuses_without_a_publisher_url(app):
    result = run(app, "counts", "publish")
    assert result.exit_code != 0 and "COUNT_PUBLISH_URL is not set" in result.output
