"""Storage scenarios through the project's own repositories and Redis store."""
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Petition, PetitionsBase
from app.repositories.open_petitions import OpenPetitionStore
from app.repositories.petitions_sql import PetitionRepository
from app.repositories.redis_client import make_redis
from app.services.documents import open_document
from bench import data


def _docs(count):
    rows = data.open_petitions(count)
    for pid, row in enumerate(rows, start=1):
        row.id = pid
    return [open_document(row) for row in rows]


def _timed(fn, *args):
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def redis_writes(redis_url, sizes, results):
    """Petitions into Redis one call each (put_open, what launch does) and in bulk (merge_many,
    what the rebuild does)."""
    client = make_redis(redis_url, socket_timeout=30)
    store = OpenPetitionStore(client)
    docs = _docs(sizes["redis_petitions"])
    client.flushdb()  # this redis-server is the suite's own

    started = time.perf_counter()
    for doc in tqdm(docs, desc="redis: petitions one by one", leave=False):
        store.put_open(doc)
    one_by_one = time.perf_counter() - started
    client.flushdb()
    bulk = _timed(store.merge_many, [(doc, []) for doc in docs])
    results.add("storage", "redis_write_one_by_one", seconds=one_by_one, petitions=len(docs))
    results.add("storage", "redis_write_bulk", seconds=bulk, petitions=len(docs))
    _redis_top_reads(client, store, sizes, results)
    client.connection_pool.disconnect()


def _redis_top_reads(client, store, sizes, results):
    """Top 500 open petitions: the round trips alone (the raw bytes a page reads: ids, then
    summaries and ranking scores), and read plus deserialised through the store (what a page
    does). Median of repeated single reads."""
    top, repeats = sizes["top"], sizes["read_repeats"]

    def raw():
        pipe = client.pipeline(transaction=False)
        pipe.zrange(keys.OPEN_BY_SIGNATURES, 0, top - 1, desc=True)
        ids = pipe.execute()[0]
        pipe.hmget(keys.OPEN_SUMMARIES, ids)
        pipe.zmscore(keys.OPEN_BY_SIGNATURES, ids)
        return pipe.execute()

    def deserialised():
        page = store.page("signatures", 1, top)
        assert len(page.items) == min(top, sizes["redis_petitions"])

    for name, fn in (("redis_top_raw", raw), ("redis_top_deserialised", deserialised)):
        times = [_timed(fn) for _ in range(repeats)]
        results.add("storage", name, ms=statistics.median(times) * 1000, first_ms=times[0] * 1000,
                    petitions=top, repeats=repeats)


def sql_writes(label, session, sizes, results):
    """Petitions into SQL through PetitionRepository: one commit each (extrapolated to the full
    count from a smaller sample when that is slow) and batched commits."""
    repo = PetitionRepository(session)
    sample = data.open_petitions(sizes["sql_one_commit"], seed=2)
    started = time.perf_counter()
    for row in tqdm(sample, desc=f"{label}: one commit each", leave=False):
        repo.add(row)
        session.commit()
    per_row = (time.perf_counter() - started) / len(sample)
    target = sizes["sql_petitions"]
    results.add("storage", f"{label}_write_one_commit_each", seconds=per_row * target,
                petitions=target, measured_on=len(sample), extrapolated=len(sample) < target)

    rows = data.open_petitions(target, seed=3)
    batch = sizes["sql_batch"]
    started = time.perf_counter()
    for start in tqdm(range(0, len(rows), batch), desc=f"{label}: batched", leave=False):
        repo.add_many(rows[start : start + batch])
        session.commit()
    results.add("storage", f"{label}_write_batched", seconds=time.perf_counter() - started,
                petitions=target, batch=batch)
    session.expunge_all()


def sql_top_reads(label, engine, sizes, results):
    """Top 500 open petitions by signatures from SQL: cold (fresh connection pool, first
    query) and warm (median of repeats)."""
    stmt = (
        select(Petition)
        .where(Petition.state == "open")
        .order_by(Petition.signature_count.desc(), Petition.id)
        .limit(sizes["top"])
    )

    def read():
        with Session(engine) as session:
            return [open_document(p) for p in session.scalars(stmt)]

    engine.dispose()
    cold = _timed(read)
    warm = [_timed(read) for _ in range(sizes["read_repeats"])]
    results.add("storage", f"{label}_top_cold", ms=cold * 1000, petitions=sizes["top"])
    results.add("storage", f"{label}_top_warm", ms=statistics.median(warm) * 1000,
                petitions=sizes["top"], repeats=len(warm))


def run(app, redis_url, sizes, results):
    redis_writes(redis_url, sizes, results)
    with app.app_context():
        engine = db.engine
        with Session(engine) as session:
            sql_writes("postgresql", session, sizes, results)
        sql_top_reads("postgresql", engine, sizes, results)
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'petitions.db'}")
        PetitionsBase.metadata.create_all(engine)
        with Session(engine) as session:
            sql_writes("sqlite", session, sizes, results)
        sql_top_reads("sqlite", engine, sizes, results)
        engine.dispose()
