"""Closing a petition: the one path used by the orchestration, the sweep and the CLI.

Every step is idempotent, so a retried or repeated close is harmless: signatures are inserted
ignoring duplicates, the state change is a conditional UPDATE, and a petition already Closed
only has its Redis leftovers removed again.
"""
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import InvalidTransition, NotFound
from app.domain.petitions import Action, PetitionState, as_utc, transition, utcnow
from app.repositories import redis_keys as keys

log = logging.getLogger(__name__)
# Longer than one petition's close, report and notification take; a sweep that died holding it
# lets the next sweep after this take over.
CLOSE_LOCK_TTL_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class CloseResult:
    petition_id: int
    signature_count: int
    closed_at: datetime | None
    already_closed: bool
    # A moderator took the petition down: nothing was closed, and its lifecycle ends here.
    taken_down: bool = False

    def to_dict(self):
        return {
            "petition_id": self.petition_id,
            "signature_count": self.signature_count,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "already_closed": self.already_closed,
            "taken_down": self.taken_down,
        }


class ClosingService:
    def __init__(self, session, petitions, signatures, store, persister, clock=utcnow, count_publisher=None):
        self.session = session
        self.count_publisher = count_publisher  # ends the petition's pushed-count stream
        self.petitions = petitions
        self.signatures = signatures
        self.store = store
        self.persister = persister
        self.clock = clock

    def close(self, petition_id):
        """Open -> Closed with every signature the users were told about in SQL."""
        petition = self._get(petition_id)
        if petition.state == PetitionState.TAKEN_DOWN.value:
            return CloseResult(petition.id, petition.signature_count, None, already_closed=False, taken_down=True)
        if petition.state == PetitionState.CLOSED.value:
            self.store.stop_signing(petition_id)  # a crash may have left it open after the commit
            self.store.remove_open(petition_id)
            self._end_stream(petition)
            return self._result(petition, already_closed=True)
        transition(petition.state, Action.CLOSE)  # drafts cannot be closed
        now = self.clock()
        closes_at = as_utc(petition.closes_at)
        # An early close must stop signatures before counting; after the deadline the signing
        # script refuses them anyway.
        self.store.stop_signing(petition_id)
        self.persister.drain()
        self._reconcile(petition_id, min(now, closes_at))
        self.petitions.get_locked(petition_id)  # a removal in progress commits before we count
        count = self.signatures.count_for(petition_id)
        won = self.petitions.mark_closed(petition_id, closed_at=min(now, closes_at), signature_count=count)
        self.session.commit()
        self.session.expire_all()
        petition = self._get(petition_id)
        self.store.remove_open(petition_id)
        self._end_stream(petition)
        if won:
            log.info("closed petition %s with %s signatures", petition_id, count)
        return self._result(petition, already_closed=not won)

    def _end_stream(self, petition):
        if self.count_publisher is not None:
            self.count_publisher.end(petition.id, petition.signature_count)

    def _reconcile(self, petition_id, signed_at):
        """Copies any signer Redis holds and SQL lacks (an outbox entry lost before it was
        persisted). Their exact time is unknown, so they count at the close."""
        added = 0
        for chunk in self.store.signer_ids(petition_id):
            added += self.signatures.insert_ignoring_duplicates(
                [{"petition_id": petition_id, "user_id": uid, "signed_at": signed_at} for uid in chunk]
            )
        self.session.commit()
        if added:
            log.warning("petition %s: %s signers were in Redis but not SQL; added at close", petition_id, added)
        return added

    def open_petition(self, petition_id):
        """The petition, if it is open or taken down: only those can have a running lifecycle
        (a take-down ends it with close_now)."""
        petition = self._get(petition_id)
        if petition.state not in (PetitionState.OPEN.value, PetitionState.TAKEN_DOWN.value):
            raise InvalidTransition("Only open petitions have a running lifecycle.")
        return petition

    def request_close(self, petition_id):
        """Records an early close for the next sweep to carry out. Used where this process cannot
        reach the site's Redis (the embedded in-process store belongs to the running site)."""
        petition = self._get(petition_id)
        transition(petition.state, Action.CLOSE)
        self.petitions.request_close(petition_id, self.clock())
        self.session.commit()

    def due_ids(self, now=None):
        return list(self.petitions.due_ids(now or self.clock()))

    def unfinished_ids(self):
        return list(self.petitions.unfinished_closes())

    def ids_needing_close(self, now=None):
        """Petitions the sweep must close or finish closing: open past their deadline (or asked
        to close early), and closed ones whose report or notification never happened."""
        return self.due_ids(now) + self.unfinished_ids()

    def needing_close(self, now=None):
        return [self._get(pid) for pid in self.ids_needing_close(now)]

    def _get(self, petition_id):
        petition = self.petitions.get(petition_id)
        if petition is None:
            raise NotFound("No such petition.")
        return petition

    @staticmethod
    def _result(petition, already_closed):
        return CloseResult(
            petition_id=petition.id,
            signature_count=petition.signature_count,
            closed_at=as_utc(petition.closed_at),
            already_closed=already_closed,
        )


class CloseCoordinator:
    """Close, then report, then notify: the whole close for the CLI and the in-process sweep.
    (The orchestration runs the same three steps as separate activities.)"""

    def __init__(self, closing, reports, notifications):
        self.closing = closing
        self.reports = reports
        self.notifications = notifications

    def finish(self, petition_id):
        result = self.closing.close(petition_id)
        if result.taken_down:
            return result
        self.reports.build(petition_id)
        self.notifications.notify_closed(petition_id)
        return result

    def close_due(self, now=None):
        """Closes every open petition past its deadline, and finishes closes that stopped before
        the report or notification. One failure does not stop the others; the next sweep retries
        it. Sweeps in several processes at once share the work: each petition is closed by the
        one that takes its lock, and the others pass over it. Returns (results, failed ids)."""
        results, failed = [], []
        store, token = self.closing.store, uuid.uuid4().hex
        for petition_id in self.closing.ids_needing_close(now):
            lock = keys.close_lock(petition_id)
            try:
                if not store.acquire_lock(lock, token, CLOSE_LOCK_TTL_MS):
                    continue
                try:
                    results.append(self.finish(petition_id))
                finally:
                    store.release_lock(lock, token)
            except Exception:
                self.closing.session.rollback()
                log.exception("closing petition %s failed; the next sweep retries", petition_id)
                failed.append(petition_id)
        return results, failed
