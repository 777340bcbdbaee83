"""Moves signatures from the Redis outbox into SQL: insert idempotently, commit, then acknowledge."""
import logging
import os
import socket

log = logging.getLogger(__name__)


def consumer_name():
    return f"{socket.gethostname()}-{os.getpid()}"


class SignaturePersister:
    def __init__(
        self, outbox, signatures, session, batch_size=1000, retention_ms=0, consumer=None, linger_ms=0, block_ms=250
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
        outbox.ensure_group()

    def run_batch(self, block_ms=None, claim_idle_ms=30_000):
        """Persists one batch; returns how many outbox entries it handled (0: nothing to do)."""
        entries = self.outbox.read(self.consumer, self.batch_size, block_ms, claim_idle_ms)
        if not entries:
            return 0
        rows = [
            {"petition_id": e.petition_id, "user_id": e.user_id, "signed_at": e.signed_at}
            for e in entries
        ]
        try:
            self.signatures.insert_ignoring_duplicates(rows)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise  # unacknowledged: the entries are retried, and inserts are idempotent
        self.outbox.ack([e.entry_id for e in entries], self.retention_ms)
        return len(entries)

    def drain(self, max_batches=None):
        """Persists everything waiting now, including entries a crashed consumer left behind.
        `max_batches` bounds one call (a timer-triggered run must end while signing goes on)."""
        total = batches = 0
        while max_batches is None or batches < max_batches:
            handled = self.run_batch(claim_idle_ms=0)
            if not handled:
                break
            total += handled
            batches += 1
        return total

    def run_forever(self, stop, block_ms=None, on_error_sleep=1.0):
        """Until `stop` (a threading.Event) is set. Errors are logged and retried."""
        block_ms = self.block_ms if block_ms is None else block_ms
        while not stop.is_set():
            try:
                handled = self.run_batch(block_ms=block_ms)
            except Exception:
                log.exception("persister batch failed; retrying")
                stop.wait(on_error_sleep)
                continue
            if 0 < handled < self.batch_size:
                stop.wait(self.linger_s)
