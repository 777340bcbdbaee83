"""Signing: the one hot write. Redis decides.

Two ways in share the signing script and its rate limits:
- SigningService: the signing form, through Flask, for a signed-in session. A refusal Redis
  cannot explain (it does not know the petition) is explained from the petitions DB.
- TokenSigningService: the signing endpoint and the Functions app, for a short-lived signing
  token. It asks nothing but Redis, whatever the answer.
"""
from dataclasses import dataclass

from app.domain.emails import domain_of
from app.domain.errors import DeadlinePassed, NotFound, NotOpenForSigning, RateLimited, SignatureRemoved, StoreUnavailable
from app.domain.petitions import (
    CLOSED_FOR_SIGNING,
    DEADLINE_PASSED,
    TAKEN_DOWN_FOR_SIGNING,
    PetitionState,
    check_can_sign,
    utcnow,
)
from app.domain.signers import SignerContext
from app.repositories.open_petitions import (
    SIGN_ENDED,
    SIGN_INDEX_LOST,
    SIGN_NEW,
    SIGN_NOT_OPEN,
    SIGN_PAST_DEADLINE,
    SIGN_RATE_LIMITED,
    SIGN_REMOVED,
)

RATE_LIMITED = "Too many attempts. Please wait a minute and try again."
NOT_RECORDED = "Signing is paused for a moment, so this was not recorded, it is safe to try again."
REMOVED = "Our moderators removed this account's signature from this petition, so it cannot sign it again."
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


def _result_or_refusal(store, petition_id, status, count):
    """The SignResult for a signature, or the error for the refusals every way in explains alike.
    Returns None for the not-open answers, which each way in explains its own way."""
    if status == SIGN_RATE_LIMITED:
        raise RateLimited(RATE_LIMITED)
    if status == SIGN_PAST_DEADLINE:
        raise DeadlinePassed(DEADLINE_PASSED)
    if status == SIGN_ENDED:  # rare, so one more read to say why
        raise NotOpenForSigning(TAKEN_DOWN_FOR_SIGNING if store.ended_as(petition_id) == "taken_down"
                                else CLOSED_FOR_SIGNING)
    if status == SIGN_REMOVED:
        raise SignatureRemoved(REMOVED)
    if status in (SIGN_NOT_OPEN, SIGN_INDEX_LOST):
        return None
    return SignResult(petition_id=petition_id, new=status == SIGN_NEW, signature_count=count)


class SigningService:
    def __init__(self, store, petitions, clock=utcnow, restore_index=None, limits=None):
        self.store = store
        self.petitions = petitions
        self.clock = clock
        # Rebuilds Redis's open index from SQL if it has gone (a flushed or replaced Redis).
        self.restore_index = restore_index
        self.limits = limits  # SignLimits, counted by the signing script; None counts nothing

    def sign(self, petition_id, user_id, client_ip=None, email=None, notify=""):
        """`email`: the signer's address, for its domain; `notify`: their opt-ins (notify_flags)."""
        now = self.clock()
        counters = self.limits.counters(user_id, client_ip) if self.limits else ()
        signer = SignerContext.of(client_ip, domain_of(email) if email else "", notify)
        status, count = self.store.sign(petition_id, user_id, now.timestamp(), counters, signer)
        if (result := _result_or_refusal(self.store, petition_id, status, count)) is not None:
            return result
        if status == SIGN_INDEX_LOST and self.restore_index is not None:
            # Redis lost its open index: restore it from SQL and try once more, uncounted
            # (this attempt was counted already).
            self.restore_index()
            status, count = self.store.sign(petition_id, user_id, now.timestamp(), signer=signer)
            if (result := _result_or_refusal(self.store, petition_id, status, count)) is not None:
                return result
        self._explain_refusal(petition_id, user_id, now)
        raise StoreUnavailable(NOT_RECORDED)  # open in SQL, yet Redis cannot take it now

    def _explain_refusal(self, petition_id, user_id, now):
        petition = self.petitions.get(petition_id)
        # Someone else's draft does not exist as far as this user can tell.
        if petition is None or (petition.state == PetitionState.DRAFT.value and petition.owner_id != user_id):
            raise NotFound("No such petition.")
        check_can_sign(petition.state, petition.closes_at, now)


class TokenSigningService:
    """Signs for whoever a signing token names (SigningTokens: one user, one petition, ten
    minutes). A token is only minted on the page of an open petition, so a petition Redis does
    not know is a 404 while Redis holds its whole open index, and "not recorded, safe to try
    again" while it has lost it (the web app's next page view or start-up restores it)."""

    def __init__(self, store, tokens, limits, clock=utcnow):
        self.store = store
        self.tokens = tokens
        self.limits = limits
        self.clock = clock

    def sign(self, petition_id, token, client_ip=None, notify=""):
        signer = self.tokens.signer_for(token, petition_id)
        counters = self.limits.counters(signer.user_id, client_ip)
        context = SignerContext.of(client_ip, signer.email_domain, notify)
        status, count = self.store.sign(petition_id, signer.user_id, self.clock().timestamp(), counters, context)
        if (result := _result_or_refusal(self.store, petition_id, status, count)) is not None:
            return result
        if status == SIGN_INDEX_LOST:
            raise StoreUnavailable(NOT_RECORDED)
        raise NotFound("No such open petition.")
