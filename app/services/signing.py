"""Signing: the one hot write. Redis decides; SQL only explains a refusal."""
from dataclasses import dataclass

from app.domain.errors import DeadlinePassed, NotFound, NotOpenForSigning, StoreUnavailable
from app.domain.petitions import DEADLINE_PASSED, PetitionState, check_can_sign, utcnow
from app.repositories.open_petitions import SIGN_NEW, SIGN_NOT_OPEN, SIGN_PAST_DEADLINE


@dataclass(frozen=True)
class SignResult:
    petition_id: int
    new: bool  # False: this person had already signed
    signature_count: int


class SigningService:
    def __init__(self, store, petitions, clock=utcnow, restore_index=None):
        self.store = store
        self.petitions = petitions
        self.clock = clock
        # Rebuilds Redis's open index from SQL if it has gone (a flushed or replaced Redis).
        self.restore_index = restore_index

    def sign(self, petition_id, user_id, retry_after_restore=True):
        now = self.clock()
        status, count = self.store.sign(petition_id, user_id, now.timestamp())
        if status == SIGN_PAST_DEADLINE:
            raise DeadlinePassed(DEADLINE_PASSED)
        if status == SIGN_NOT_OPEN:
            self._explain_refusal(petition_id, user_id, now)
            # Open in SQL but not in Redis: the open index was lost. Restore it, try once more.
            if retry_after_restore and self.restore_index is not None:
                self.restore_index()
                return self.sign(petition_id, user_id, retry_after_restore=False)
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
