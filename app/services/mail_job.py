"""The mail job: petition emails sent in the background, in batches, retried, never in the way
of signing.

Each run (the Functions app's timer, the in-process worker of `make run`, or `flask mail send`):
1. records a campaign for every petition that reached a threshold (its owner is told once);
2. expands recorded campaigns into one delivery per recipient (the owner, or each valid
   signature that opted in), after draining the outbox so no opted-in signer is still only in
   Redis;
3. sends the deliveries that are due over one SMTP connection, and reschedules failures with
   backoff until MAIL_MAX_ATTEMPTS.

Exactly once: a campaign is one row per (petition, kind) and a delivery one per (petition, kind,
user), both unique in SQL; a worker holds the deliveries it sends locked (SKIP LOCKED), so a
second worker at the same moment takes others. The one window left is a crash after the SMTP
server accepted a message and before its row was marked sent: that message goes again.
"""
import logging
from datetime import timedelta
from typing import NamedTuple

from app.domain.errors import StoreUnavailable
from app.domain.petitions import PetitionState, utcnow
from app.repositories.mail_sql import FAILED, SENT, SKIPPED
from app.repositories.models import Signature
from app.services.mail import SEND_ERRORS

log = logging.getLogger(__name__)

OWNER_RESPONSE_THRESHOLD = "owner_threshold_response"
OWNER_DEBATE_THRESHOLD = "owner_threshold_debate"
SIGNERS_RESPONSE = "signers_response"
SIGNERS_CLOSED = "signers_closed"
# Who each signers' campaign goes to: the signatures with this opt-in.
SIGNER_OPT_INS = {SIGNERS_RESPONSE: Signature.notify_response, SIGNERS_CLOSED: Signature.notify_close}
# After the n-th failed attempt, the next one waits RETRY_DELAYS[n - 1] (the last one repeats).
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=6))
# Batches one run sends at most: a response to 100,000 signers goes out over a few runs
# instead of one run outlasting the Functions timeout (runs overlapping is safe).
MAX_BATCHES_PER_RUN = 50
# A threshold crossed just before the close is still told after it, within this long.
CLOSED_LOOKBACK = timedelta(days=7)


class MailRun(NamedTuple):
    campaigns: int  # recorded this run (thresholds reached)
    queued: int  # deliveries written
    sent: int
    retrying: int
    failed: int  # given up after MAIL_MAX_ATTEMPTS
    skipped: int  # unsubscribed, signature removed, account gone, or the petition taken down


class MailJob:
    def __init__(self, session, mail, petitions, users, store, persister, mailer, messages, thresholds,
                 batch_size=100, max_attempts=6, clock=utcnow):
        self.session = session
        self.mail = mail
        self.petitions = petitions
        self.users = users
        self.store = store
        self.persister = persister
        self.mailer = mailer
        self.messages = messages
        self.thresholds = thresholds  # {campaign kind: signatures}
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.clock = clock

    def run_once(self):
        campaigns = self.record_thresholds()
        queued = self.expand_campaigns()
        sent = retrying = failed = skipped = 0
        for _ in range(MAX_BATCHES_PER_RUN):
            outcome = self.send_due()
            sent, retrying, failed, skipped = (sent + outcome.sent, retrying + outcome.retrying,
                                               failed + outcome.failed, skipped + outcome.skipped)
            if outcome.claimed < self.batch_size or outcome.retrying == outcome.claimed:
                break  # nothing more due, or the mail server is refusing everything
        return MailRun(campaigns, queued, sent, retrying, failed, skipped)

    # -- 1. thresholds --------------------------------------------------------------------------
    def record_thresholds(self):
        now = self.clock()
        recorded = 0
        for kind, signatures in self.thresholds.items():
            reached = self.mail.closed_since_at_least(now - CLOSED_LOOKBACK, signatures)
            try:
                reached += list(self.store.at_least(signatures, limit=None))
            except StoreUnavailable:
                log.warning("mail job: Redis unavailable, open petitions' thresholds wait for the next run")
            for petition_id in self.mail.without_campaign(kind, sorted(set(reached))):
                recorded += self.mail.add_campaign(petition_id, kind, now)
        self.session.commit()
        return recorded

    # -- 2. recipients --------------------------------------------------------------------------
    def expand_campaigns(self):
        if not self.mail.has_unexpanded():
            return 0
        # Signatures reach SQL through the outbox; drain it first (before taking row locks, as
        # the persister commits) so every opted-in signer is there.
        self.persister.drain()
        now = self.clock()
        queued = 0
        for campaign in self.mail.claim_unexpanded(limit=50):
            petition = self.petitions.get(campaign.petition_id)
            if petition is None or petition.state == PetitionState.TAKEN_DOWN.value:
                pass  # nobody is mailed about a petition the moderators took down
            elif campaign.kind in SIGNER_OPT_INS:
                queued += self.mail.add_signer_deliveries(petition.id, campaign.kind, SIGNER_OPT_INS[campaign.kind], now)
            else:
                queued += self.mail.add_delivery(petition.id, campaign.kind, petition.owner_id, now)
            campaign.expanded_at = now
        self.session.commit()
        return queued

    # -- 3. sending -----------------------------------------------------------------------------
    def send_due(self):
        if self.mailer is None:  # no SMTP_URL or MAIL_DIR: deliveries wait until there is one
            return _Outcome(claimed=0)
        now = self.clock()
        batch = self.mail.claim_due(now, self.batch_size)
        outcome = _Outcome(claimed=len(batch))
        if not batch:
            self.session.commit()
            return outcome
        users = self.users.by_ids({d.user_id for d in batch})
        petitions = {pid: self.petitions.get(pid) for pid in {d.petition_id for d in batch}}
        wanted = self._still_wanted(batch, petitions, users)
        to_send = []
        for delivery in batch:
            if delivery.id in wanted:
                to_send.append(delivery)
            else:
                delivery.status, delivery.last_error = SKIPPED, "no longer wanted"
                outcome.skipped += 1
        if to_send:
            self._send(to_send, petitions, users, now, outcome)
        self.session.commit()  # releases the batch's row locks
        return outcome

    def _still_wanted(self, batch, petitions, users):
        """Ids of the deliveries still to send: the person has an account and did not
        unsubscribe, a signer's signature still counts, the petition was not taken down."""
        wanted = set()
        for petition_id, petition in petitions.items():
            if petition is None or petition.state == PetitionState.TAKEN_DOWN.value:
                continue
            mine = [d for d in batch if d.petition_id == petition_id]
            ids = [d.user_id for d in mine]
            opted_out = self.mail.opted_out(petition_id, ids)
            signer_ids = [d.user_id for d in mine if d.kind in SIGNER_OPT_INS]
            still_signed = self.mail.valid_signers(petition_id, signer_ids) if signer_ids else set()
            for d in mine:
                if d.user_id in users and d.user_id not in opted_out and (
                        d.kind not in SIGNER_OPT_INS or d.user_id in still_signed):
                    wanted.add(d.id)
        return wanted

    def _send(self, deliveries, petitions, users, now, outcome):
        done = set()
        try:
            with self.mailer.batch() as send:
                for delivery in deliveries:
                    user = users[delivery.user_id]
                    message = self.messages.compose(delivery.kind, petitions[delivery.petition_id], user)
                    try:
                        send(user.email, message.subject, message.body, message.headers)
                    except SEND_ERRORS as error:
                        self._retry(delivery, error, now, outcome)
                    else:
                        delivery.status, delivery.sent_at, delivery.last_error = SENT, now, None
                        delivery.attempts += 1
                        outcome.sent += 1
                    done.add(delivery.id)
        except SEND_ERRORS as error:  # no connection (or it broke): what was not sent waits
            log.warning("mail job: the mail server is unavailable (%s); retrying later", error)
            for delivery in deliveries:
                if delivery.id not in done:
                    self._retry(delivery, error, now, outcome)

    def _retry(self, delivery, error, now, outcome):
        delivery.attempts += 1
        delivery.last_error = f"{type(error).__name__}: {error}"[:200]
        if delivery.attempts >= self.max_attempts:
            delivery.status = FAILED
            outcome.failed += 1
            log.error("mail job: giving up on delivery %s after %s attempts: %s",
                      delivery.id, delivery.attempts, delivery.last_error)
        else:
            delivery.next_attempt_at = now + RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
            outcome.retrying += 1


class _Outcome:
    def __init__(self, claimed):
        self.claimed = claimed
        self.sent = self.retrying = self.failed = self.skipped = 0
