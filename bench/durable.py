"""Persister throughput, Redis memory per signature, and the rebuild of Redis from SQL."""
import itertools
import time

from sqlalchemy import text
from tqdm import tqdm

from app.web import wiring
from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import OpenPetitionStore
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.repositories.redis_client import make_redis
from app.services.documents import open_document
from app.services.rebuild import rebuild_open_index
from bench import data
from bench.appctx import truncate_all
from bench.services import redis_server


def _add_petitions(count):
    repo = PetitionRepository(db.session)
    rows = data.open_petitions(count)
    for start in range(0, len(rows), 1000):
        repo.add_many(rows[start : start + 1000])
    db.session.commit()
    return [row.id for row in rows]


def persister(sizes, results):
    """Fills the outbox through the signing script (pipelined, so seeding is quick), then times
    the persister draining it into PostgreSQL."""
    truncate_all()
    client = wiring.redis_client()
    ids = _add_petitions(sizes["persister_petitions"])
    rebuild_open_index(wiring.open_store(), PetitionRepository(db.session), SignatureRepository(db.session), utcnow)
    total, now = sizes["persister_signatures"], utcnow().timestamp()
    pairs = [(ids[n % len(ids)], n + 1) for n in range(total)]
    for start in tqdm(range(0, total, 5000), desc="persister: filling outbox", leave=False):
        wiring.open_store().sign_many(pairs[start : start + 5000], now)
    for batch_size in sizes["persister_batches"]:
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE signatures, signature_hours"))
        runner = wiring.persister(consumer=f"bench-{batch_size}")
        runner.batch_size = batch_size
        client.xgroup_setid(keys.OUTBOX, keys.OUTBOX_GROUP, "0")  # read the same entries again
        started = time.perf_counter()
        persisted = runner.drain()
        seconds = time.perf_counter() - started
        stored = SignatureRepository(db.session).count_for(ids[0])
        results.add("durable", f"persister_batch{batch_size}", signatures_per_s=persisted / seconds,
                    signatures=persisted, seconds=seconds, first_petition_rows=stored)


def memory(sizes, port_range, results):
    """INFO memory on a dedicated server: petitions loaded first, then the signers added through
    the rebuild's bulk path; the difference over the signature count. Two shapes: one huge
    petition, and the same total spread over many with a long tail."""
    total = sizes["memory_signatures"]
    shapes = {"one_petition": [total], "spread": data.skewed_counts(total, sizes["memory_petitions"])}
    for shape, counts in shapes.items():
        with redis_server(port_range) as url:
            client = make_redis(url, socket_timeout=60)
            store = OpenPetitionStore(client)
            docs = data.open_petitions(len(counts))
            for pid, row in enumerate(docs, start=1):
                row.id = pid
            docs = [open_document(row) for row in docs]
            store.merge_many([(doc, []) for doc in docs])
            before = client.info("memory")["used_memory"]
            users = itertools.count(1)
            for start in tqdm(range(0, len(docs), 100), desc=f"memory: {shape}", leave=False):
                part = docs[start : start + 100]
                store.merge_many([(doc, [next(users) for _ in range(counts[start + i])]) for i, doc in enumerate(part)])
            after = client.info("memory")["used_memory"]
            results.add("durable", f"redis_memory_{shape}", bytes_per_signature=(after - before) / total,
                        signatures=total, petitions=len(counts))
            client.connection_pool.disconnect()


def rebuild(sizes, results):
    """Open petitions and signatures in SQL, an empty Redis, then the production rebuild."""
    truncate_all()
    client = wiring.redis_client()
    ids = _add_petitions(sizes["rebuild_petitions"])
    counts = data.skewed_counts(sizes["rebuild_signatures"], len(ids))
    signatures, now = SignatureRepository(db.session), utcnow()
    batch = []
    for pid, count in tqdm(list(zip(ids, counts)), desc="rebuild: signatures into SQL", leave=False):
        batch += [{"petition_id": pid, "user_id": uid, "signed_at": now} for uid in range(1, count + 1)]
        if len(batch) >= 20_000:
            signatures.insert_ignoring_duplicates(batch)
            db.session.commit()
            batch = []
    signatures.insert_ignoring_duplicates(batch)
    db.session.commit()
    db.session.expunge_all()
    started = time.perf_counter()
    rebuilt = rebuild_open_index(wiring.open_store(), PetitionRepository(db.session), signatures, utcnow)
    seconds = time.perf_counter() - started
    in_redis = sum(wiring.open_store().counts(ids).values())
    results.add("durable", "rebuild", seconds=seconds, petitions=rebuilt, signatures=in_redis,
                expected_signatures=sum(counts))
