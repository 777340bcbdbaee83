"""Acknowledging trims the outbox: only entries that are acknowledged and older than the
retention window go; pending and undelivered entries always stay."""
import pytest

from app.web import wiring
from app.repositories import redis_keys as keys
from app.repositories.outbox import Outbox

HOUR_MS = 3_600_000
# XTRIM here is approximate: Redis drops whole internal nodes (up to 100 entries each), so the
# tests use a few hundred entries to see anything go.
OLD_IDS = [f"{1000 + n}-0".encode() for n in range(300)]  # milliseconds since 1970: long past


@pytest.fixture
def outbox(app):
    with app.app_context():
        yield Outbox(wiring.redis_client())


def add(outbox, entry_ids):
    pipe = outbox.redis.pipeline(transaction=False)
    for n, entry_id in enumerate(entry_ids, start=1):
        pipe.xadd(keys.OUTBOX, {"p": "1", "u": str(n), "t": "1.0"}, id=entry_id)
    pipe.execute()
    outbox.ensure_group()


def ids_left(outbox):
    return [e.entry_id for e in outbox.all_entries()]


def persist(outbox, consumer, count, retention_ms):
    entry_ids = [e.entry_id for e in outbox.read(consumer, count=count)]
    outbox.ack(entry_ids, retention_ms)
    return entry_ids


def test_old_acknowledged_entries_go_and_undelivered_ones_stay(outbox):
    add(outbox, OLD_IDS)
    persist(outbox, "a", 250, retention_ms=HOUR_MS)
    left = ids_left(outbox)
    assert len(left) < 300
    assert left == OLD_IDS[-len(left):]  # trimmed from the oldest end only
    assert set(OLD_IDS[250:]) <= set(left)  # never read: kept


def test_entries_pending_with_another_consumer_stay(outbox):
    add(outbox, OLD_IDS)
    [slow] = outbox.read("slow", count=1)
    persist(outbox, "fast", 299, retention_ms=0)
    assert ids_left(outbox) == OLD_IDS  # the oldest is still pending: nothing may go
    outbox.ack([slow.entry_id], retention_ms=0)
    assert len(ids_left(outbox)) < 300


def test_entries_within_the_retention_window_stay_after_acknowledgement(outbox):
    add(outbox, ["*"] * 300)
    persist(outbox, "a", 300, retention_ms=HOUR_MS)
    assert len(ids_left(outbox)) == 300
    assert outbox.lag() == 0
