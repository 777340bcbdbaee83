"""Moderators removing signatures found to be fraudulent, and the fraud signals they go by.

SQL and Redis cannot change in one transaction, so an invalidation is a journal entry first:
1. the outbox is drained, so every signature acknowledged so far is in SQL to be matched;
2. one SQL transaction records the invalidation (who, when, why), marks the matching rows as
   removed by it and counts them on the petition;
3. the same signers move from the petition's signer set to its removed set in Redis
   (INVALIDATE_SCRIPT: idempotent), which also re-ranks the petition;
4. the invalidation is marked applied.
A crash after 2 leaves SQL ahead of Redis with the entry unapplied; apply_pending replays step 3
from SQL's rows (at the next invalidation, every close sweep and every rebuild), after which the
two agree. Removed signers cannot sign that petition again: the signing script refuses them.
"""
import logging

from app.domain.errors import InvalidTransition, NotFound
from app.domain.emails import mailbox_of
from app.domain.invalidations import checked_reason, criterion
from app.domain.petitions import PetitionState, utcnow
from app.repositories.models import SignatureInvalidation

log = logging.getLogger(__name__)

# Where signatures live in Redis: only these petitions' counts can change.
INVALIDATABLE = (PetitionState.OPEN.value, PetitionState.TAKEN_DOWN.value)


class InvalidationService:
    def __init__(self, session, petitions, signatures, invalidations, audit, store, persister, users, clock=utcnow,
                 count_publisher=None):
        self.session = session
        self.petitions = petitions
        self.signatures = signatures
        self.invalidations = invalidations
        self.audit = audit
        self.store = store
        self.persister = persister
        self.users = users
        self.clock = clock
        self.count_publisher = count_publisher  # watchers see the lower count at once

    def criterion(self, kind, value, signed_from=None, signed_to=None):
        """The checked InvalidationCriterion for a moderator's form (an account by its address)."""
        user_id = None
        if kind == "user":
            user = self.users.by_mailbox(mailbox_of(value))
            user_id = user.id if user is not None else None
        return criterion(kind, value, signed_from, signed_to, user_id=user_id)

    def preview(self, petition_id, chosen):
        """How many of the petition's valid signatures the criterion selects right now."""
        self._invalidatable(petition_id)
        self.persister.drain()
        return self.signatures.matching(petition_id, chosen)

    def invalidate(self, petition_id, moderator, chosen, reason):
        """Removes the matching signatures; returns the SignatureInvalidation."""
        reason = checked_reason(reason)
        self._invalidatable(petition_id)
        self.apply_pending()
        self.persister.drain()
        # Locked from here to the commit: a close waits to count until the rows are marked, or
        # has closed the petition first, and then the count is final and nothing is removed.
        petition = self._invalidatable(petition_id, lock=True)
        invalidation = self.invalidations.add(SignatureInvalidation(
            petition_id=petition_id, kind=chosen.kind, value=chosen.value, signed_from=chosen.signed_from,
            signed_to=chosen.signed_to, reason=reason, moderator_id=moderator.id,
            moderator_name=moderator.display_name, created_at=self.clock(), removed_count=0,
        ))
        removed = self.signatures.mark_removed(invalidation, chosen)
        invalidation.removed_count = removed
        petition.removed_signatures += removed
        if petition.state == PetitionState.TAKEN_DOWN.value:
            petition.signature_count = max(0, petition.signature_count - removed)
        label = self._label(chosen)
        self.audit.add("invalidate_signatures", moderator.id, moderator.display_name, petition_id,
                       user_id=int(chosen.value) if chosen.kind == "user" else None,
                       details=f"{removed:,} removed: {chosen.describe(label)}. {reason}")
        self.session.commit()
        self._apply(invalidation)
        return invalidation

    def apply_pending(self):
        """Carries out in Redis every invalidation SQL holds and Redis may lack; returns how many."""
        pending = self.invalidations.unapplied()
        for invalidation in pending:
            self._apply(invalidation)
        return len(pending)

    def history(self, petition_id):
        """[(invalidation, what it matched as moderators know it)]: an account by its current
        email address (its id once the account is gone), a domain or prefix as it is."""
        rows = self.invalidations.for_petition(petition_id)
        accounts = self.users.by_ids({int(r.value) for r in rows if r.kind == "user"})
        return [(r, accounts[int(r.value)].email if r.kind == "user" and int(r.value) in accounts else r.value)
                for r in rows]

    def signals(self, petition_id):
        return self.store.signals(petition_id, self.clock().timestamp())

    def _apply(self, invalidation):
        user_ids = self.signatures.removed_user_ids(invalidation.id)
        petition = self.petitions.get(invalidation.petition_id)
        if user_ids and petition is not None and petition.state in INVALIDATABLE:  # else Redis holds no signers
            self.store.invalidate(invalidation.petition_id, user_ids)
        invalidation.applied_at = self.clock()
        self.session.commit()
        if user_ids and self.count_publisher is not None:
            self.count_publisher.publish_now(invalidation.petition_id)
        log.info("invalidation %s: %s signatures of petition %s removed in Redis",
                 invalidation.id, len(user_ids), invalidation.petition_id)

    def _invalidatable(self, petition_id, lock=False):
        petition = self.petitions.get_locked(petition_id) if lock else self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        if petition.state not in INVALIDATABLE:
            raise InvalidTransition("This petition has closed: its count is final.")
        return petition

    def _label(self, chosen):
        if chosen.kind != "user":
            return None
        user = self.users.get(int(chosen.value))
        return user.email if user is not None else None
