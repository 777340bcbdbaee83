"""An empty Redis is rebuilt from SQL: documents, indexes and signer sets, by exactly one process."""
import threading
from datetime import datetime, timedelta, timezone

from app.web import wiring
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import DETAIL_FIELDS, SUMMARY_FIELDS
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.services.documents import open_document
from app.services.rebuild import ensure_open_index
from tests.helpers import sign
from tests.integration.support import close_now, login_as, make_draft, make_open, make_user

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
OPEN_KEYS = (keys.OPEN_BY_SIGNATURES, keys.OPEN_BY_NEWEST, keys.OPEN_BY_CLOSING)


def snapshot(redis):
    """Everything Redis holds about open petitions (not the outbox, locks or markers)."""
    state = {index: redis.zrange(index, 0, -1, withscores=True) for index in OPEN_KEYS}
    state["titles"] = redis.hgetall(keys.OPEN_TITLES)
    state["summaries"] = redis.hgetall(keys.OPEN_SUMMARIES)
    for key in redis.scan_iter("petition:*"):
        kind = redis.type(key)
        state[key] = redis.smembers(key) if kind == b"set" else redis.get(key)
    return state


def seed(app):
    """Three open petitions with signers already in SQL, one draft and one closed petition."""
    owner = make_user(app, "owner@example.com")
    ids = [
        make_open(app, owner, "Open petition number one", launched_at=NOW - timedelta(days=3)),
        make_open(app, owner, "Open petition number two", launched_at=NOW - timedelta(days=2), days=10),
        make_open(app, owner, "Open petition without signers", launched_at=NOW - timedelta(days=1)),
    ]
    closed = make_open(app, owner, "A petition that has closed", launched_at=NOW - timedelta(days=40))
    make_draft(app, owner, "A draft nobody can see yet")
    with app.app_context():
        store = wiring.open_store()
        for user in range(1, 6):
            store.sign(ids[0], user, NOW.timestamp())
        for user in (2, 7):
            store.sign(ids[1], user, NOW.timestamp())
        wiring.persister(consumer="seed").drain()
    close_now(app, closed, NOW - timedelta(days=10), 0)
    return ids


def rebuild(app, clock=lambda: NOW):
    with app.app_context():
        try:
            return ensure_open_index(
                wiring.open_store(), PetitionRepository(db.session), SignatureRepository(db.session), clock
            )
        finally:
            db.session.remove()


def test_empty_redis_is_rebuilt_to_exactly_what_it_held(app, redis_client):
    ids = seed(app)
    before = snapshot(redis_client)
    redis_client.flushdb()

    assert rebuild(app) is True
    assert snapshot(redis_client) == before
    assert redis_client.get(keys.INDEX_READY) == NOW.isoformat().encode()
    assert sorted(int(i) for i in redis_client.zrange(keys.OPEN_BY_CLOSING, 0, -1)) == ids


def test_rebuilt_redis_agrees_with_sql(app, redis_client):
    ids = seed(app)
    redis_client.flushdb()
    rebuild(app)
    with app.app_context():
        petitions, signatures = PetitionRepository(db.session), SignatureRepository(db.session)
        store = wiring.open_store()
        assert sorted(p.id for p in petitions.open_petitions()) == sorted(store.open_ids()) == ids
        for petition in petitions.open_petitions():
            signers = sorted(signatures.user_ids_for(petition.id))
            assert sorted(int(u) for u in redis_client.smembers(keys.signers(petition.id))) == signers
            shown = {k: v for k, v in open_document(petition).items() if k in SUMMARY_FIELDS + DETAIL_FIELDS}
            assert store.get(petition.id) == {**shown, "signature_count": len(signers), "removed_signatures": 0}
            assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, petition.id) == len(signers)


def test_rebuild_keeps_signers_redis_has_and_sql_does_not_yet(app, redis_client):
    ids = seed(app)
    with app.app_context():
        wiring.open_store().sign(ids[2], 42, NOW.timestamp())  # not yet persisted
    redis_client.delete(keys.INDEX_READY)
    rebuild(app)
    assert redis_client.smembers(keys.signers(ids[2])) == {b"42"}
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, ids[2]) == 1


def test_the_move_to_v3_deletes_the_documents_earlier_releases_kept(app, redis_client):
    """Upgrading: the v2 marker and each open petition's whole document are still there."""
    ids = seed(app)
    redis_client.delete(keys.INDEX_READY)
    redis_client.set("open:index:ready:v2", "2026-05-01T00:00:00")
    for petition_id in ids:
        redis_client.set(keys.legacy_petition_doc(petition_id), b'{"id": %d}' % petition_id)
    assert rebuild(app) is True
    assert redis_client.exists(*(keys.legacy_petition_doc(i) for i in ids)) == 0
    assert all(redis_client.exists(keys.petition_doc(i)) for i in ids)


def test_a_rebuild_of_a_redis_no_earlier_release_indexed_skips_the_document_cleanup(app, redis_client):
    """After Redis lost its data there are no whole documents to delete: no earlier marker, so
    the rebuild sends no UNLINKs (a key of that name, planted here, shows it)."""
    ids = seed(app)
    redis_client.delete(keys.INDEX_READY, *keys.EARLIER_INDEX_READY)
    redis_client.set(keys.legacy_petition_doc(ids[0]), b"planted")
    assert rebuild(app) is True
    assert redis_client.get(keys.legacy_petition_doc(ids[0])) == b"planted"


def test_ready_index_is_left_alone(app, redis_client):
    seed(app)
    assert rebuild(app) is True
    redis_client.delete(keys.petition_doc(1))
    assert rebuild(app) is False
    assert not redis_client.exists(keys.petition_doc(1))


def test_threads_starting_at_once_rebuild_exactly_once(app, redis_client):
    seed(app)
    redis_client.flushdb()
    start = threading.Barrier(6)
    results = []

    def worker():
        start.wait()
        results.append(rebuild(app))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * 5 + [True]
    assert redis_client.exists(keys.INDEX_READY)
    assert not redis_client.exists(keys.REBUILD_LOCK)


def test_app_rebuilds_a_flushed_redis_before_its_first_request(config, app, redis_client):
    from app.web.factory import create_app

    ids = seed(app)
    redis_client.flushdb()
    config.REBUILD_REDIS_ON_START = True
    fresh = create_app(config)
    body = fresh.test_client().get("/api/petitions?sort=newest").get_json()
    assert [item["id"] for item in body["data"]] == ids[::-1]
    assert [item["signature_count"] for item in body["data"]] == [0, 2, 5]
    with fresh.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_a_redis_flushed_under_a_running_site_is_restored_by_the_next_reader_or_signer(app, client, redis_client):
    owner = make_user(app, "owner@example.com")
    signer = make_user(app, "sam@example.com")
    first = make_open(app, owner, "Open petition number one")
    second = make_open(app, owner, "Open petition number two")
    with app.app_context():
        wiring.open_store().sign(first, 99, datetime.now(timezone.utc).timestamp())
        wiring.persister(consumer="t").drain()
    login_as(client, signer)

    redis_client.flushdb()  # a failover to an empty replica, say
    # Signing notices the petition is open in SQL but gone from Redis, restores, then signs.
    response = sign(client, second)
    assert response.status_code == 303
    assert client.get(f"/api/petitions/{second}/count").get_json()["signature_count"] == 1

    redis_client.flushdb()
    listing = client.get("/api/petitions").get_json()
    assert {item["id"] for item in listing["data"]} == {first, second}
    assert {item["id"]: item["signature_count"] for item in listing["data"]}[first] == 1

    redis_client.flushdb()
    assert client.get(f"/api/petitions/{first}").get_json()["signature_count"] == 1
    redis_client.flushdb()
    assert client.get(f"/api/petitions/{first}/count").get_json()["signature_count"] == 1
