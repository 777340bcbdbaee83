"""Rebuilds Redis's open petitions from SQL when Redis starts empty."""
import logging
import time
import uuid

from app.repositories import redis_keys as keys
from app.services.documents import open_document

log = logging.getLogger(__name__)


class RebuildTimeout(RuntimeError):
    pass


def ensure_open_index(store, petitions, signatures, clock, lock_ttl_ms=120_000, wait_s=120.0):
    """Returns True if this process rebuilt the index, False if it was ready or another did.

    One process wins the lock and rebuilds; the rest wait for the ready marker. A holder that dies
    lets its lock expire and the next waiter takes over.
    """
    deadline = time.monotonic() + wait_s
    token = uuid.uuid4().hex
    while not store.index_ready():
        if store.acquire_lock(keys.REBUILD_LOCK, token, lock_ttl_ms):
            try:
                if store.index_ready():
                    return False
                rebuild_open_index(store, petitions, signatures, clock)
                return True
            finally:
                store.release_lock(keys.REBUILD_LOCK, token)
        if time.monotonic() > deadline:
            raise RebuildTimeout("waited too long for another process to rebuild Redis")
        time.sleep(0.1)
    return False


def rebuild_open_index(store, petitions, signatures, clock):
    """Loads every open petition and its signers from SQL into Redis, merging with what is there."""
    started = time.monotonic()
    open_rows = petitions.open_petitions()
    open_ids = [p.id for p in open_rows]
    signers = signatures.signers_by_petition(open_ids)
    store.merge_many((open_document(p), signers[p.id]) for p in open_rows)
    # Removed signers go again, after the merge: a signer SQL had not yet removed when it was
    # read may have been merged back, and a crashed invalidation may never have reached Redis.
    for petition_id, removed in signatures.removed_by_petition(open_ids).items():
        store.invalidate(petition_id, removed)
    store.mark_ended(petitions.ended())  # so refusals say why without SQL
    store.mark_ready(clock().isoformat())
    # Whole documents exist only where a release before v3 ran (not after Redis lost its data),
    # and only for petitions open when v3 arrived: closing deletes the rest.
    if store.holds_earlier_release_index():
        store.forget_legacy_documents(open_ids)
    log.info(
        "rebuilt Redis open index: %d petitions, %d signatures in %.2fs",
        len(open_rows),
        sum(map(len, signers.values())),
        time.monotonic() - started,
    )
    return len(open_rows)
