"""Open petitions in Redis: documents and their list summaries, the three sort indexes, signer
sets and the signing script."""
import collections
import contextlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timezone

import hiredis
import orjson
import redis

from app.domain.errors import StoreUnavailable
from app.domain.signers import SignerContext
from app.repositories import redis_keys as keys

SORT_INDEXES = {
    # sort name -> (index key, highest first?)
    "signatures": (keys.OPEN_BY_SIGNATURES, True),
    "newest": (keys.OPEN_BY_NEWEST, True),
    "closing": (keys.OPEN_BY_CLOSING, False),
}

# One atomic step for a signature. In order: every rate-limit counter (KEYS[9..], with ARGV[8..]
# as limit, window pairs) is counted, refused attempts included; the petition must be open and
# before its deadline; a signer the moderators removed (KEYS[7]) stays removed; the signer is
# added, and only a new signer bumps the ranking, is appended to the outbox with where it came
# from and what it opted in to (ARGV[4..6]), and is counted in this minute's fraud signals
# (KEYS[8]: totals per IP prefix and email domain, kept ARGV[7] seconds). A petition that is
# not open is told apart, for the refusal only: ended here (KEYS[5]), unknown while the open
# index is complete (KEYS[6]), or unknown because Redis has lost its index.
# Returns {status, count} with the SIGN_* status codes below.
SIGN_SCRIPT = """
local limited = false
for i = 9, #KEYS do
  local hits = redis.call('INCR', KEYS[i])
  local limit, window = ARGV[2 * i - 10], ARGV[2 * i - 9]
  if hits == 1 then
    redis.call('EXPIRE', KEYS[i], window)
  end
  if hits > tonumber(limit) then
    limited = true
  end
end
if limited then
  return {-3, 0}
end
local closes_at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not closes_at then
  if redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
    return {-4, 0}
  end
  if redis.call('EXISTS', KEYS[6]) == 0 then
    return {-5, 0}
  end
  return {-1, 0}
end
if tonumber(ARGV[3]) >= tonumber(closes_at) then
  return {-2, redis.call('SCARD', KEYS[2])}
end
if redis.call('SISMEMBER', KEYS[7], ARGV[2]) == 1 then
  return {-6, redis.call('SCARD', KEYS[2])}
end
local added = redis.call('SADD', KEYS[2], ARGV[2])
local count = redis.call('SCARD', KEYS[2])
if added == 1 then
  redis.call('ZADD', KEYS[3], count, ARGV[1])
  redis.call('XADD', KEYS[4], '*', 'p', ARGV[1], 'u', ARGV[2], 't', ARGV[3], 'i', ARGV[4], 'd', ARGV[5], 'o', ARGV[6])
  if redis.call('HINCRBY', KEYS[8], 'n', 1) == 1 then
    redis.call('EXPIRE', KEYS[8], ARGV[7])
  end
  if ARGV[4] ~= '' then
    redis.call('HINCRBY', KEYS[8], 'i:' .. ARGV[4], 1)
  end
  if ARGV[5] ~= '' then
    redis.call('HINCRBY', KEYS[8], 'd:' .. ARGV[5], 1)
  end
end
return {added, count}
"""

# Moves signers the moderators invalidated (ARGV[2..]) from petition ARGV[1]'s signer set
# (KEYS[1]) to its removed set (KEYS[2]), so the signing script refuses them from now on, and
# re-ranks the petition (KEYS[3], only if ranked: a taken-down petition is not) by the set's
# new size.
# Idempotent: replaying it after a crash changes nothing more.
INVALIDATE_SCRIPT = """
redis.call('SREM', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], unpack(ARGV, 2))
local count = redis.call('SCARD', KEYS[1])
redis.call('ZADD', KEYS[3], 'XX', count, ARGV[1])
return count
"""

# Sets each petition's ranking score to the size of its merged signer set, for a whole chunk of
# petitions that were just given signers from SQL. KEYS[1] is the by-signatures index; KEYS[i + 1]
# is the signer set of petition ARGV[i]. Scores go in as ZADDs of up to 500 pairs (within Lua's
# unpack limit).
SCORE_SCRIPT = """
local total = #KEYS - 1
for first = 1, total, 500 do
  local batch = {}
  for i = first, math.min(first + 499, total) do
    batch[#batch + 1] = redis.call('SCARD', KEYS[i + 1])
    batch[#batch + 1] = ARGV[i]
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
end
return total
"""

# Deletes the lock only if we still hold it (it may have expired and been taken by another).
RELEASE_LOCK_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

EMPTY_CONTEXT = SignerContext()
# How long a minute of fraud signals stays: the moderators' view covers the last SIGNALS_MINUTES.
SIGNALS_MINUTES = 60
SIGNALS_KEEP_SECONDS = (SIGNALS_MINUTES + 5) * 60

# How long the rebuild's bulk stream waits on Redis. A request gives up after
# REDIS_SOCKET_TIMEOUT (0.5 s) so a user hears "safe to retry"; a rebuild that stopped at a
# brief stall would leave every first request waiting on another rebuild instead.
BULK_SOCKET_TIMEOUT = 10.0

# SIGN_NOT_OPEN: Redis does not know the petition (never launched, or no such petition);
# SIGN_ENDED: it was open and has closed; SIGN_INDEX_LOST: Redis has lost its open index, so it
# cannot tell (the rebuild restores it).
SIGN_NEW, SIGN_ALREADY, SIGN_NOT_OPEN, SIGN_PAST_DEADLINE, SIGN_RATE_LIMITED, SIGN_ENDED, SIGN_INDEX_LOST = (
    1, 0, -1, -2, -3, -4, -5,
)
SIGN_REMOVED = -6  # the moderators removed this signer's signature; it cannot be given again
REPLICA_UNCONFIRMED = (
    "The petition store could not confirm a second copy of this signature in time, so this was not recorded, "
    "it is safe to try again."
)

# What list pages show of a petition (app/templates/public/_list.html and the list API's
# LIST_FIELDS), kept apart from the rest so a page reads a few bytes per petition, not the body.
SUMMARY_FIELDS = ("id", "title", "state", "launched_at", "closes_at")
# What the petition's own page and API answer add to its summary: the petition's document key
# holds only these, and get() joins the two. Nothing is stored twice, and the timestamps the
# indexes are scored by (and the owner's id) are not stored at all: no read used them.
DETAIL_FIELDS = ("body", "owner_name", "response")  # "response" only once one is published


def _documents_write(docs, ids):
    return _paired(("MSET",), map(keys.petition_doc, ids), [_fields_json(d, DETAIL_FIELDS) for d in docs])


def _summaries_write(docs, ids):
    return _paired(("HSET", keys.OPEN_SUMMARIES), ids, [_fields_json(d, SUMMARY_FIELDS) for d in docs])


def _titles_write(docs, ids):
    return _paired(("HSET", keys.OPEN_TITLES), ids, [d["title"].casefold() for d in docs])


def _date_index_write(key, field, docs, ids):
    return _paired(("ZADD", key), [d[field] for d in docs], ids)


# Writes of the documents, summaries and search titles, each one command for petitions and their
# ids as text.
LISTING_WRITES = (_documents_write, _summaries_write, _titles_write)
# The date indexes and the field each is scored by.
DATE_INDEXES = ((keys.OPEN_BY_NEWEST, "launched_ts"), (keys.OPEN_BY_CLOSING, "closes_ts"))


def _open_writes(docs):
    """The commands that make petitions open and listed, in the order both launch and bulk load
    send them: documents and summaries first, then the search titles and sort indexes that lead
    readers to them (the bulk load is not one transaction)."""
    ids = [str(d["id"]) for d in docs]
    return [
        *(build(docs, ids) for build in LISTING_WRITES),
        *(_date_index_write(key, field, docs, ids) for key, field in DATE_INDEXES),
    ]


def _paired(head, first, second):
    """The command `head` followed by first[0], second[0], first[1], second[1], ... without a
    tuple per pair."""
    first = list(first)
    command = [*head, *first, *first]
    command[len(head) + 1 :: 2] = second
    command[len(head) :: 2] = first
    return tuple(command)


def _merge_batches(items, score_sha, chunk):
    """Part of the bulk load, as batches of commands: the petitions, their signers (added, never
    replaced), then their ranking scores from the merged sets. One structure at a time for all
    of `items`, in commands of `chunk` petitions: Redis then works on one index at a time, which
    cost it a fifth less CPU than writing every structure per chunk."""
    parts = [items[start : start + chunk] for start in range(0, len(items), chunk)]
    docs = [doc for doc, _ in items]
    ids = [str(doc["id"]) for doc in docs]  # each id goes into five commands: converted once
    for build in LISTING_WRITES:
        for start in range(0, len(docs), chunk):
            yield [build(docs[start : start + chunk], ids[start : start + chunk])]
    for key, field in DATE_INDEXES:
        # In score order: Redis then inserts each id next to the one before in its skiplist,
        # which cost it half the CPU of inserting them in id order.
        scores = [doc[field] for doc in docs]
        order = sorted(range(len(docs)), key=scores.__getitem__)
        scores, ordered_ids = [scores[n] for n in order], [ids[n] for n in order]
        for start in range(0, len(docs), chunk):
            yield [_paired(("ZADD", key), scores[start : start + chunk], ordered_ids[start : start + chunk])]
    for part in parts:
        sadds = [
            ("SADD", keys.signers(doc["id"]), *signer_ids[start : start + 10_000])
            for doc, signer_ids in part
            for start in range(0, len(signer_ids), 10_000)
        ]
        if sadds:
            yield sadds
    for part in parts:
        counted = [doc["id"] for doc, signer_ids in part if signer_ids]
        unsigned = [doc["id"] for doc, signer_ids in part if not signer_ids]
        batch = []
        if counted:
            batch.append(("EVALSHA", score_sha, len(counted) + 1, keys.OPEN_BY_SIGNATURES, *map(keys.signers, counted), *counted))
        if unsigned:
            # NX keeps the score of a petition Redis already ranks. A signer set only ever exists
            # with its score, which the signing script keeps at the set's size (also while this
            # load runs), so there is nothing to count for these. Checking for sets instead cost
            # Redis 15% more CPU over the whole load (BENCHMARKS.md, machine G).
            batch.append(_paired(("ZADD", keys.OPEN_BY_SIGNATURES, "NX"), ["0"] * len(unsigned), unsigned))
        yield batch


def _fields_json(doc, fields):
    return orjson.dumps({field: doc[field] for field in fields if field in doc})


def _read_replies(connection, replies):
    for _ in range(replies):
        connection.read_response()  # raises on the first error reply


def _with_counts(raw_summaries, counts):
    items = []
    for raw, count in zip(raw_summaries, counts):
        if raw is None:  # closed between the two reads
            continue
        item = orjson.loads(raw)
        item["signature_count"] = int(count or 0)
        items.append(item)
    return items


@contextlib.contextmanager
def store_errors():
    """Turns a Redis outage into the domain's 'nothing recorded, safe to retry' error."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreUnavailable(
            "The petition store is not answering, so this was not recorded, it is safe to try again."
        ) from exc


@dataclass(frozen=True)
class FraudSignals:
    per_minute: list  # [(minute start, epoch s), new signatures]
    by_ip_prefix: list  # [(prefix, new signatures)], most first
    by_email_domain: list  # [(domain, new signatures)], most first

    @property
    def total(self):
        return sum(n for _, n in self.per_minute)

    @property
    def busy_minutes(self):
        """[(minute start as a UTC datetime, new signatures)] for minutes that had any, newest first."""
        return [(datetime.fromtimestamp(start, timezone.utc), n) for start, n in reversed(self.per_minute) if n]


@dataclass(frozen=True)
class OpenPage:
    items: list  # petition summaries (SUMMARY_FIELDS) with "signature_count" added
    total: int


class OpenPetitionStore:
    def __init__(self, client, min_replica_acks=0, replica_ack_timeout=0.3):
        """`min_replica_acks`: how many replicas must hold a signature before sign() answers it
        (REDIS_MIN_REPLICAS_ACK), waiting at most `replica_ack_timeout` seconds."""
        self.redis = client
        self.min_replica_acks = min_replica_acks
        self.replica_ack_timeout_ms = max(1, int(replica_ack_timeout * 1000))
        self._sign = client.register_script(SIGN_SCRIPT)
        self._release_lock = client.register_script(RELEASE_LOCK_SCRIPT)
        self._score = client.register_script(SCORE_SCRIPT)  # its sha, for the bulk load's EVALSHAs
        self._invalidate = client.register_script(INVALIDATE_SCRIPT)

    # -- writes -------------------------------------------------------------------------------
    def put_open(self, doc):
        """Writes a newly launched petition (document, summary and indexes) atomically."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=True)
            for command in _open_writes([doc]):
                pipe.execute_command(*command)
            pipe.zadd(keys.OPEN_BY_SIGNATURES, {doc["id"]: 0}, nx=True)
            pipe.execute()

    def merge_many(self, docs_with_signers, chunk=2000, group=20_000):
        """Bulk load for the rebuild: `group` petitions at a time, each structure written with
        one multi-member command per `chunk` petitions. Signers are added to whatever the sets
        already hold (never removed), so a rebuild cannot lose a signature Redis has and SQL
        does not yet."""
        items = iter(docs_with_signers)
        groups = iter(lambda: list(itertools.islice(items, group)), [])
        load_script = [("SCRIPT", "LOAD", SCORE_SCRIPT)]  # on the stream, before its first EVALSHA
        batches = itertools.chain.from_iterable(_merge_batches(g, self._score.sha, chunk) for g in groups)
        with store_errors():
            self._stream(itertools.chain([load_script], batches))

    def _stream(self, batches, window=4 << 20):
        """Sends batches of commands on one connection, reading a batch's replies only once
        more than `window` bytes were sent after it: Redis works through what is queued while
        the next batches are built (some cost the client more than Redis, some the reverse),
        and no reply waits longer than Redis takes for about `window` bytes of commands. Packed
        by hiredis straight from the arguments: redis-py's per-argument checks cost as much
        again. Its own connection allows BULK_SOCKET_TIMEOUT, not a request's timeout."""
        pool = self.redis.connection_pool
        timeout = max(BULK_SOCKET_TIMEOUT, pool.connection_kwargs.get("socket_timeout") or 0)
        connection = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": timeout})
        try:
            # Connected here, not by the first send: a Sentinel-managed connection learns the
            # primary's address only in its own connect(), which a send's reconnect skips.
            connection.connect()
            unread = collections.deque()  # (replies, bytes) of each batch sent and not yet read
            in_flight = 0
            for commands in batches:
                packed = [hiredis.pack_command(c) for c in commands]
                connection.send_packed_command(packed, check_health=False)
                unread.append((len(commands), sum(map(len, packed))))
                in_flight += unread[-1][1]
                while in_flight - unread[0][1] > window:  # more than `window` sent after the oldest
                    replies, size = unread.popleft()
                    _read_replies(connection, replies)
                    in_flight -= size
            for replies, _ in unread:
                _read_replies(connection, replies)
        finally:
            connection.disconnect()

    def forget_legacy_documents(self, petition_ids, chunk=1000):
        """Deletes what releases before v3 kept per open petition (`petition:<id>:doc`, about
        600 bytes each); a rebuild calls it when such a release had indexed this Redis."""
        with store_errors():
            for start in range(0, len(petition_ids), chunk):
                self.redis.unlink(*(keys.legacy_petition_doc(pid) for pid in petition_ids[start : start + chunk]))

    def stop_signing(self, petition_id):
        """Refuses new signatures from now on (the signing script checks this index first) and
        records that the petition has ended, so a refusal can say so without SQL; the rest of
        the petition stays readable until remove_open."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=True)
            pipe.zrem(keys.OPEN_BY_CLOSING, petition_id)
            pipe.hset(keys.ENDED, petition_id, "closed")
            pipe.execute()

    def ended_as(self, petition_id):
        """Why signing refuses a petition that has ended: "closed", "taken_down", or None."""
        with store_errors():
            reason = self.redis.hget(keys.ENDED, petition_id)
        return reason.decode() if reason is not None else None

    def mark_ended(self, ended, chunk=10_000):
        """Records petitions that have ended, {id: "closed" or "taken_down"} (the rebuild loads
        them from SQL)."""
        items = list(ended.items())
        with store_errors():
            for start in range(0, len(items), chunk):
                self.redis.hset(keys.ENDED, mapping=dict(items[start : start + chunk]))

    def take_down(self, petition_id):
        """A moderator's take-down, in one transaction: out of every open index and list, refused
        by the signing script from now on (recorded as ended), its page read from SQL. The signer
        set stays, so a restore loses no signature Redis has and SQL does not yet. Returns the
        count at that moment."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=True)
            for index in (keys.OPEN_BY_CLOSING, keys.OPEN_BY_SIGNATURES, keys.OPEN_BY_NEWEST):
                pipe.zrem(index, petition_id)
            pipe.hdel(keys.OPEN_TITLES, petition_id)
            pipe.hdel(keys.OPEN_SUMMARIES, petition_id)
            pipe.delete(keys.petition_doc(petition_id), keys.legacy_petition_doc(petition_id))
            pipe.hset(keys.ENDED, petition_id, "taken_down")
            pipe.scard(keys.signers(petition_id))
            return pipe.execute()[-1]

    def set_response(self, petition_id, response):
        """Adds the published response to an open petition's document (no-op if it is not open)."""
        with store_errors():
            raw = self.redis.get(keys.petition_doc(petition_id))
            if raw is not None:
                detail = orjson.loads(raw)
                detail["response"] = response
                self.redis.set(keys.petition_doc(petition_id), orjson.dumps(detail), xx=True)

    def at_least(self, signatures, limit=500):
        """{petition id: count} for open petitions with at least `signatures` signatures: the
        `limit` nearest it, or all of them when `limit` is None."""
        paging = {} if limit is None else {"start": 0, "num": limit}
        with store_errors():
            rows = self.redis.zrangebyscore(keys.OPEN_BY_SIGNATURES, signatures, "+inf", withscores=True, **paging)
        return {int(pid): int(score) for pid, score in rows}

    def restore(self, doc, signer_ids):
        """Puts a taken-down petition back: its signers merged with SQL's, then open to signing."""
        self.merge_many([(doc, signer_ids)])
        with store_errors():
            self.redis.hdel(keys.ENDED, doc["id"])

    def remove_open(self, petition_id):
        """Takes a closed petition out of Redis entirely; SQL holds it from now on."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=True)
            for index in (keys.OPEN_BY_SIGNATURES, keys.OPEN_BY_NEWEST, keys.OPEN_BY_CLOSING):
                pipe.zrem(index, petition_id)
            pipe.hdel(keys.OPEN_TITLES, petition_id)
            pipe.hdel(keys.OPEN_SUMMARIES, petition_id)
            pipe.delete(
                keys.petition_doc(petition_id),
                keys.legacy_petition_doc(petition_id),
                keys.signers(petition_id),
                keys.removed_signers(petition_id),
            )
            pipe.execute()

    def sign(self, petition_id, user_id, now_ts, counters=(), signer=EMPTY_CONTEXT):
        """Runs the signing script; returns (status, count) with the SIGN_* status codes.
        `counters` are the rate limits to count (SignLimits.counters); `signer` is what the
        signature records besides who signed (SignerContext)."""
        call = self._sign_call(petition_id, user_id, now_ts, counters, signer)
        with store_errors():
            if self.min_replica_acks:
                status, count = self._sign_replicated(call)
            else:
                status, count = self._sign(**call)
        return int(status), int(count)

    def _sign_replicated(self, call):
        """The signing script and a WAIT in one round trip on one connection. WAIT covers every
        write this connection made, and the script always writes when it counts rate limits, so
        an "already signed" answer is confirmed as well as a new one: the signature a retry finds
        may be one whose first answer was this 503. Concurrent WAITs share the primary's replica
        round trip: Redis asks its replicas for their offset once per event-loop pass and releases
        every WAIT the answer covers."""
        for attempt in (1, 2):
            pipe = self.redis.pipeline(transaction=False)
            pipe.evalsha(self._sign.sha, len(call["keys"]), *call["keys"], *call["args"])
            pipe.wait(self.min_replica_acks, self.replica_ack_timeout_ms)
            result, acks = pipe.execute(raise_on_error=False)
            if isinstance(result, redis.exceptions.NoScriptError) and attempt == 1:
                # A new primary after a failover has an empty script cache.
                self.redis.script_load(SIGN_SCRIPT)
                continue
            if isinstance(result, Exception):
                raise result
            if isinstance(acks, Exception):
                raise acks
            status, count = result
            if status in (SIGN_NEW, SIGN_ALREADY) and acks < self.min_replica_acks:
                raise StoreUnavailable(REPLICA_UNCONFIRMED)
            return status, count

    def sign_many(self, pairs, now_ts, chunk=2000):
        """The signing script for each (petition id, user id), pipelined, without rate limits:
        real signatures in bulk for seeding and tests. Returns how many were new."""
        new = 0
        with store_errors():
            for start in range(0, len(pairs), chunk):
                pipe = self.redis.pipeline(transaction=False)
                for petition_id, user_id in pairs[start : start + chunk]:
                    self._sign(**self._sign_call(petition_id, user_id, now_ts), client=pipe)
                new += sum(1 for status, _ in pipe.execute() if status == SIGN_NEW)
        return new

    @staticmethod
    def _sign_call(petition_id, user_id, now_ts, counters=(), signer=EMPTY_CONTEXT):
        return {
            "keys": [
                keys.OPEN_BY_CLOSING,
                keys.signers(petition_id),
                keys.OPEN_BY_SIGNATURES,
                keys.OUTBOX,
                keys.ENDED,
                keys.INDEX_READY,
                keys.removed_signers(petition_id),
                keys.signals(petition_id, int(now_ts) // 60),
                *(counter.key for counter in counters),
            ],
            "args": [
                petition_id,
                user_id,
                now_ts,
                *signer,
                SIGNALS_KEEP_SECONDS,
                *itertools.chain.from_iterable((c.limit, c.window_seconds) for c in counters),
            ],
        }

    def invalidate(self, petition_id, user_ids, chunk=5000):
        """Moves these signers to the petition's removed set (INVALIDATE_SCRIPT), `chunk` at a
        time; returns the count left. Safe to repeat."""
        count = None
        with store_errors():
            for start in range(0, len(user_ids), chunk):
                count = self._invalidate(
                    keys=[keys.signers(petition_id), keys.removed_signers(petition_id), keys.OPEN_BY_SIGNATURES],
                    args=[petition_id, *user_ids[start : start + chunk]],
                )
            return int(count) if count is not None else self.redis.scard(keys.signers(petition_id))

    # -- reads --------------------------------------------------------------------------------
    def get(self, petition_id):
        """The open petition as its page shows it (SUMMARY_FIELDS and DETAIL_FIELDS) with its
        live count, or None when it is not open."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(keys.OPEN_SUMMARIES, petition_id)
            pipe.get(keys.petition_doc(petition_id))
            pipe.scard(keys.signers(petition_id))
            pipe.scard(keys.removed_signers(petition_id))
            summary, detail, count, removed = pipe.execute()
        if summary is None or detail is None:  # not open, or being closed or loaded right now
            return None
        doc = orjson.loads(summary)
        doc.update(orjson.loads(detail))
        doc["signature_count"] = count
        doc["removed_signatures"] = removed
        return doc

    def signals(self, petition_id, now_ts, minutes=SIGNALS_MINUTES, top=10):
        """The last `minutes` of new signatures: per minute (oldest first, zeros included), and
        the `top` IP prefixes and email domains over the whole window."""
        last = int(now_ts) // 60
        window = range(last - minutes + 1, last + 1)
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            for minute in window:
                pipe.hgetall(keys.signals(petition_id, minute))
            buckets = pipe.execute()
        per_minute, prefixes, domains = [], collections.Counter(), collections.Counter()
        for minute, bucket in zip(window, buckets):
            per_minute.append((minute * 60, int(bucket.pop(b"n", 0))))
            for field, hits in bucket.items():
                kind, _, value = field.decode().partition(":")
                (prefixes if kind == "i" else domains)[value] += int(hits)
        return FraudSignals(per_minute, prefixes.most_common(top), domains.most_common(top))

    def count(self, petition_id):
        """Live count, or None when the petition is not open."""
        return self.open_counts([petition_id]).get(petition_id)

    def counts(self, petition_ids):
        """{id: live count} for the given open petitions."""
        if not petition_ids:
            return {}
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            for pid in petition_ids:
                pipe.scard(keys.signers(pid))
            return dict(zip(petition_ids, pipe.execute()))

    def open_counts(self, petition_ids):
        """{id: live count} of those of `petition_ids` still open, in one round trip."""
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            for pid in petition_ids:
                pipe.zscore(keys.OPEN_BY_CLOSING, pid)
                pipe.scard(keys.signers(pid))
            answers = pipe.execute()
        return {pid: count for pid, is_open, count in zip(petition_ids, answers[::2], answers[1::2])
                if is_open is not None}

    def has_signed(self, petition_id, user_id):
        with store_errors():
            return bool(self.redis.sismember(keys.signers(petition_id), user_id))

    def page(self, sort, page, page_size, query=None):
        """One page of open petitions as summaries with their live counts."""
        index, descending = SORT_INDEXES[sort]
        start = (page - 1) * page_size
        with store_errors():
            if query:
                ids = self._search(index, descending, query)
                total, ids = len(ids), ids[start : start + page_size]
            else:
                ids, total = self._read_together(
                    ("ZRANGE", index, start, start + page_size - 1, *(("REV",) if descending else ())),
                    ("ZCARD", index),
                )
            return OpenPage(items=self._summaries(ids), total=total)

    def _search(self, index, descending, query):
        """Ids of open petitions whose title holds every word of the query, in sort order."""
        words = query.casefold().split()
        titles = self.redis.hgetall(keys.OPEN_TITLES)
        matches = [pid for pid, title in titles.items() if all(w in title.decode() for w in words)]
        if not matches:
            return []
        scores = self.redis.zmscore(index, matches)
        ranked = [(score, int(pid)) for pid, score in zip(matches, scores) if score is not None]
        ranked.sort(key=lambda pair: (pair[0], pair[1]), reverse=descending)
        return [pid for _, pid in ranked]

    def _summaries(self, ids):
        if not ids:
            return []
        summaries, counts = self._read_together(
            ("HMGET", keys.OPEN_SUMMARIES, *ids), ("ZMSCORE", keys.OPEN_BY_SIGNATURES, *ids)
        )
        return _with_counts(summaries, counts)

    def _read_together(self, *commands):
        """Sends the commands in one write on a pooled connection and returns their replies, as
        Redis sent them. Packed by hiredis: redis-py's checks of each argument cost a page of 500
        ids more client time than Redis takes to answer it."""
        pool = self.redis.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([hiredis.pack_command(c) for c in commands], check_health=False)
            return [connection.read_response() for _ in commands]
        except BaseException:
            connection.disconnect()  # the other commands' replies may still be owed on it
            raise
        finally:
            pool.release(connection)

    def open_ids(self):
        with store_errors():
            return [int(pid) for pid in self.redis.zrange(keys.OPEN_BY_CLOSING, 0, -1)]

    def due_ids(self, now_ts):
        """Open petitions at or past their deadline."""
        with store_errors():
            return [int(p) for p in self.redis.zrangebyscore(keys.OPEN_BY_CLOSING, "-inf", now_ts)]

    def signer_ids(self, petition_id, batch=10_000):
        """Yields the signer set in chunks without blocking Redis on a huge set."""
        with store_errors():
            chunk = []
            for member in self.redis.sscan_iter(keys.signers(petition_id), count=batch):
                chunk.append(int(member))
                if len(chunk) >= batch:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

    # -- the index as a whole -----------------------------------------------------------------
    def index_ready(self):
        with store_errors():
            return bool(self.redis.exists(keys.INDEX_READY))

    def holds_earlier_release_index(self):
        """Whether a release before v3 indexed this Redis, so its whole documents may be here."""
        with store_errors():
            return bool(self.redis.exists(*keys.EARLIER_INDEX_READY))

    def mark_ready(self, stamp):
        with store_errors():
            self.redis.set(keys.INDEX_READY, stamp)

    def acquire_lock(self, key, token, ttl_ms):
        """A lock shared by every process (keys.REBUILD_LOCK, keys.close_lock): True if `token`
        now holds it; it expires after `ttl_ms` should its holder die."""
        with store_errors():
            return bool(self.redis.set(key, token, nx=True, px=ttl_ms))

    def release_lock(self, key, token):
        with store_errors():
            self._release_lock(keys=[key], args=[token])
