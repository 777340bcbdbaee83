"""Moves signatures from the Redis outbox into SQL: insert idempotently, commit, then acknowledge."""
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor

from app.domain.signers import NOTIFY_CLOSE, NOTIFY_RESPONSE

log = logging.getLogger(__name__)


def consumer_name():
    return f"{socket.gethostname()}-{os.getpid()}"


class SignaturePersister:
    def __init__(
        self, outbox, signatures, session, batch_size=1000, retention_ms=0, consumer=None, linger_ms=0, block_ms=250,
        claim_idle_ms=30_000,
    ):
        self.outbox = outbox
        self.signatures = signatures
        self.session = session
        self.batch_size = batch_size
        # After a part-full batch, wait this long before the next read: a steady trickle of
        # signatures then costs one transaction per linger rather than one per handful.
        self.linger_s = linger_ms / 1000
        # How long an idle read waits for new entries. It must end before the Redis client's
        # socket timeout does, or every idle wait fails and the loop backs off for a second.
        self.block_ms = block_ms
        self.retention_ms = retention_ms
        self.consumer = consumer or consumer_name()
        self.claim_idle_ms = claim_idle_ms  # entries a crashed consumer left this long are taken over
        outbox.ensure_group()

    def run_batch(self, block_ms=None, claim_idle_ms=None):
        """Persists one batch; returns how many outbox entries it handled (0: nothing to do).
        `claim_idle_ms`: the claim threshold for this batch instead of the persister's own."""
        entries = self._read(block_ms, self.claim_idle_ms if claim_idle_ms is None else claim_idle_ms)
        if entries:
            self._persist(entries)
        return len(entries)

    def drain(self, max_batches=None):
        """Persists everything waiting now, including entries a crashed consumer left behind.
        `max_batches` bounds one call (a timer-triggered run must end while signing goes on)."""
        total = batches = 0
        with self._read_ahead() as ahead:
            while max_batches is None or batches < max_batches:
                entries = ahead.take() or self._read(claim_idle_ms=0)
                if not entries:
                    break
                batches += 1
                if max_batches is None or batches < max_batches:
                    ahead.start_after(entries)
                self._persist(entries)
                total += len(entries)
        return total

    def run_forever(self, stop, block_ms=None, on_error_sleep=1.0):
        """Until `stop` (a threading.Event) is set. Errors are logged and retried."""
        block_ms = self.block_ms if block_ms is None else block_ms
        with self._read_ahead() as ahead:
            while not stop.is_set():
                try:
                    entries = ahead.take() or self._read(block_ms, self.claim_idle_ms)
                    ahead.start_after(entries)
                    if entries:
                        self._persist(entries)
                except Exception:
                    log.exception("persister batch failed; retrying")
                    stop.wait(on_error_sleep)
                    continue
                if 0 < len(entries) < self.batch_size:
                    stop.wait(self.linger_s)
            try:  # read before the stop: written now rather than left for another consumer to claim
                if leftover := ahead.take():
                    self._persist(leftover)
            except Exception:
                log.exception("persister could not write its last batch; another consumer will claim it")

    def _read(self, block_ms=None, claim_idle_ms=None):
        """`claim_idle_ms=None` reads new entries only (Outbox.read)."""
        return self.outbox.read(self.consumer, self.batch_size, block_ms, claim_idle_ms)

    def _read_ahead(self):
        return ReadAhead(self._read, self.batch_size)

    def _persist(self, entries):
        rows = [
            {
                "petition_id": e.petition_id,
                "user_id": e.user_id,
                "signed_at": e.signed_at,
                "ip_prefix": e.ip_prefix or None,
                "email_domain": e.email_domain or None,
                "notify_response": NOTIFY_RESPONSE in e.notify,
                "notify_close": NOTIFY_CLOSE in e.notify,
            }
            for e in entries
        ]
        try:
            self.signatures.insert_ignoring_duplicates(rows)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise  # unacknowledged: the entries are retried, and inserts are idempotent
        self.outbox.ack([e.entry_id for e in entries], self.retention_ms)


class ReadAhead:
    """After a full batch, reads the next one in a helper thread while the full one is written:
    the insert and commit wait on PostgreSQL, and reading and parsing the next entries fit in
    that wait. It reads new entries only, never claims idle ones: with the drain's threshold of
    0 a claim would take back the very batch being written."""

    def __init__(self, read_new, batch_size):
        self.read_new = read_new
        self.batch_size = batch_size
        self.pending = None
        # Its one thread starts at the first read ahead: a drain of a few entries starts none.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-read-ahead")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        # A read still running finishes first; what it read stays pending for a claim.
        self.executor.shutdown(wait=True)

    def start_after(self, entries):
        if len(entries) == self.batch_size:
            self.pending = self.executor.submit(self.read_new)

    def take(self):
        """The entries read ahead ([] when none were), raising the read's error."""
        pending, self.pending = self.pending, None
        return pending.result() if pending is not None else []
