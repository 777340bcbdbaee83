"""The signature outbox: a Redis stream read through one consumer group."""
from datetime import datetime, timezone
from typing import NamedTuple

import redis

from app.repositories import redis_keys as keys
from app.repositories.open_petitions import store_errors


class OutboxEntry(NamedTuple):  # a tuple: built in half the time of a frozen dataclass, per entry
    entry_id: bytes
    petition_id: int
    user_id: int
    signed_at: datetime
    ip_prefix: str  # SignerContext's fields; "" in entries written before they existed
    email_domain: str
    notify: str


def _entry(entry_id, fields):
    return OutboxEntry(
        entry_id,
        int(fields[b"p"]),
        int(fields[b"u"]),
        datetime.fromtimestamp(float(fields[b"t"]), tz=timezone.utc),
        fields.get(b"i", b"").decode(),
        fields.get(b"d", b"").decode(),
        fields.get(b"o", b"").decode(),
    )


class Outbox:
    def __init__(self, client):
        self.redis = client

    def ensure_group(self):
        """Creates the consumer group reading from the very start, so nothing written before it
        existed is skipped."""
        with store_errors():
            try:
                self.redis.xgroup_create(keys.OUTBOX, keys.OUTBOX_GROUP, id="0", mkstream=True)
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read(self, consumer, count, block_ms=None, claim_idle_ms=30_000):
        """Entries to persist: first ones another consumer took and left idle (it crashed),
        then new ones. `claim_idle_ms=None` reads new ones only."""
        with store_errors():
            if claim_idle_ms is not None:
                claimed = self.redis.xautoclaim(
                    keys.OUTBOX, keys.OUTBOX_GROUP, consumer, claim_idle_ms, "0-0", count=count
                )[1]
                entries = [_entry(i, f) for i, f in claimed if f]
                if entries:
                    return entries
            streams = self.redis.xreadgroup(
                keys.OUTBOX_GROUP, consumer, {keys.OUTBOX: ">"}, count=count, block=block_ms
            )
        return [_entry(i, f) for _, batch in streams for i, f in batch]

    def ack(self, entry_ids, retention_ms=0):
        """Acknowledges persisted entries, then trims what is both acknowledged and older than
        the retention window (kept for replays and audits). Two round trips: the acknowledgement
        and what the trim needs to know go in one pipeline."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(keys.OUTBOX, keys.OUTBOX_GROUP, *entry_ids)
            pipe.time()
            pipe.xpending(keys.OUTBOX, keys.OUTBOX_GROUP)
            pipe.xinfo_groups(keys.OUTBOX)
            _, now, pending, groups = pipe.execute()
            self.redis.xtrim(keys.OUTBOX, minid=_trim_cutoff(now, pending, groups, retention_ms))

    def length(self):
        with store_errors():
            return self.redis.xlen(keys.OUTBOX)

    def lag(self):
        """Entries written but not yet acknowledged (pending plus never delivered)."""
        with store_errors():
            try:
                groups = self.redis.xinfo_groups(keys.OUTBOX)
            except redis.exceptions.ResponseError:  # no stream yet
                return 0
        for group in groups:
            if group["name"] == keys.OUTBOX_GROUP.encode():
                return int(group.get("lag") or 0) + int(group["pending"])
        return self.length()

    def lag_seconds(self):
        """How long the oldest entry not yet acknowledged has waited, by Redis's clock (an
        entry's id is the millisecond Redis added it); 0.0 when SQL holds everything."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.time()
            pipe.xpending(keys.OUTBOX, keys.OUTBOX_GROUP)
            pipe.xinfo_groups(keys.OUTBOX)
            try:
                now, pending, groups = pipe.execute()
            except redis.exceptions.ResponseError:  # no stream, or no persister made the group yet
                now, pending, after = self.redis.time(), {"pending": 0}, "-"
            else:
                after = b"(" + _last_delivered(groups)
            if pending["pending"]:  # delivered before anything still undelivered: the oldest
                oldest = pending["min"]
            else:
                first = self.redis.xrange(keys.OUTBOX, min=after, count=1)
                if not first:
                    return 0.0
                oldest = first[0][0]
        now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
        return max(0.0, (now_ms - int(oldest.split(b"-")[0])) / 1000)

    def all_entries(self):
        """Every entry still in the stream, oldest first (replays and tests)."""
        with store_errors():
            return [_entry(i, f) for i, f in self.redis.xrange(keys.OUTBOX)]


def _trim_cutoff(now, pending, groups, retention_ms):
    """The stream id (milliseconds) below which entries may go: older than the retention window,
    and neither pending nor still undelivered."""
    cutoff = int(now[0]) * 1000 - retention_ms
    if pending["pending"]:
        return min(cutoff, int(pending["min"].split(b"-")[0]))
    # Nothing pending: entries not yet delivered must survive too.
    return min(cutoff, int(_last_delivered(groups).split(b"-")[0]))


def _last_delivered(groups):
    return next(g["last-delivered-id"] for g in groups if g["name"] == keys.OUTBOX_GROUP.encode())
