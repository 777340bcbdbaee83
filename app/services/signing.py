"""Signing: the one hot write. Redis decides; SQL only explains a refusal."""
from dataclasses import dataclass

from app.domain.errors import DeadlinePassed, NotFound, NotOpenForSigning, RateLimited, StoreUnavailable
from app.domain.petitions import DEADLINE_PASSED, PetitionState, check_can_sign, utcnow
from app.repositories.open_petitions import (
    SIGN_NEW,
    SIGN_NOT_OPEN,
    SIGN_PAST_DEADLINE,
    SIGN_RATE_LIMITED,
)

RATE_LIMITED = "Too many attempts. Please wait a minute and try again."
# What a signature did, as the thank-you redirect's `signed=` query names it: the petition page
# thanks the signer from it, so the answer leaves the session cookie alone.
SIGNED_NEW, SIGNED_AGAIN = "new", "again"


@dataclass(frozen=True)
class SignResult:
    petition_id: int
    new: bool  # False: this person had already signed
    signature_count: int

    @property
    def outcome(self):
        return SIGNED_NEW if self.new else SIGNED_AGAIN


def thank_you(outcome, count):
    """(category, message) the petition page shows a signer after the form post, or None when
    `outcome` is not one of SIGNED_NEW, SIGNED_AGAIN."""
    if outcome == SIGNED_AGAIN:
        return "info", "You have already signed this petition. Each person can sign once."
    if outcome == SIGNED_NEW:
        return "success", f"Thank you for signing. This petition now has {count:,} signature{'' if count == 1 else 's'}."
    return None


class SigningService:
    def __init__(self, store, petitions, clock=utcnow, restore_index=None, limits=None):
        self.store = store
        self.petitions = petitions
        self.clock = clock
        # Rebuilds Redis's open index from SQL if it has gone (a flushed or replaced Redis).
        self.restore_index = restore_index
        self.limits = limits  # SignLimits, counted by the signing script; None counts nothing

    def sign(self, petition_id, user_id, client_ip=None, script_answer=None):
        """`script_answer` is the (status, count) the signing script already gave for this very
        attempt (the web fast path ran it and hands the refusal here to be explained), so the
        attempt is not counted against the rate limits twice."""
        now = self.clock()
        if script_answer is None:
            counters = self.limits.counters(user_id, client_ip) if self.limits else ()
            script_answer = self.store.sign(petition_id, user_id, now.timestamp(), counters)
        return self._answer(petition_id, user_id, now, *script_answer)

    def _answer(self, petition_id, user_id, now, status, count, retry_after_restore=True):
        if status == SIGN_RATE_LIMITED:
            raise RateLimited(RATE_LIMITED)
        if status == SIGN_PAST_DEADLINE:
            raise DeadlinePassed(DEADLINE_PASSED)
        if status == SIGN_NOT_OPEN:
            self._explain_refusal(petition_id, user_id, now)
            # Open in SQL but not in Redis: the open index was lost. Restore it, try once more
            # (uncounted: this attempt was counted already).
            if retry_after_restore and self.restore_index is not None:
                self.restore_index()
                status, count = self.store.sign(petition_id, user_id, now.timestamp())
                return self._answer(petition_id, user_id, now, status, count, retry_after_restore=False)
            raise StoreUnavailable(
                "Signing is paused for a moment, so this was not recorded, it is safe to try again."
            )
        return SignResult(petition_id=petition_id, new=status == SIGN_NEW, signature_count=count)

    def _explain_refusal(self, petition_id, user_id, now):
        petition = self.petitions.get(petition_id)
        # Someone else's draft does not exist as far as this user can tell.
        if petition is None or (petition.state == PetitionState.DRAFT.value and petition.owner_id != user_id):
            raise NotFound("No such petition.")
        check_can_sign(petition.state, petition.closes_at, now)
        if petition.state != PetitionState.OPEN.value:
            raise NotOpenForSigning("This petition cannot be signed.")
