"""Moderation: people report petitions; moderators take them down, restore them, or dismiss the
reports; every moderator action, and every change of who moderates, goes in the audit log.

A take-down commits in SQL first (state, reason, the count at that moment), then leaves Redis in
one transaction. If the Redis step fails, the moderator sees the error and takes it down again:
both steps are idempotent, and a second take-down of a taken-down petition repeats only the
Redis step.
"""
import logging

from sqlalchemy.exc import IntegrityError

from app.domain.emails import mailbox_of
from app.domain.errors import AlreadyReported, InvalidInput, InvalidTransition, NotFound
from app.domain.petitions import Action, PetitionState, as_utc, transition, utcnow
from app.repositories.models import PetitionReport, PetitionResponse
from app.services.documents import open_document, response_dict
from app.services.mail import SEND_ERRORS
from app.services.mail_job import SIGNERS_RESPONSE

log = logging.getLogger(__name__)

# What a person may report a petition for (the form's choices, in this order).
REPORT_REASONS = {
    "offensive": "Offensive, abusive or hateful",
    "false": "False or misleading",
    "personal": "Names or targets a private person",
    "duplicate": "A duplicate of another petition",
    "spam": "Spam or advertising",
    "other": "Something else",
}
DETAILS_MAX = 1000
TAKEDOWN_REASON_MIN, TAKEDOWN_REASON_MAX = 10, 1000
RESPONSE_MIN, RESPONSE_MAX = 20, 10_000
COMMAND_LINE = "command line"  # the moderator name logged for `flask users ...`
ALREADY_REPORTED = "You have reported this petition already. Our moderators will look at it."


class ModerationService:
    def __init__(self, session, petitions, signatures, reports, audit, store, users=None, mailer=None,
                 mail=None, clock=utcnow, on_take_down=None, on_restore=None, count_publisher=None):
        self.session = session
        self.petitions = petitions
        self.signatures = signatures
        self.reports = reports
        self.audit = audit
        self.store = store
        self.users = users
        self.mailer = mailer
        self.mail = mail  # MailRepository: a first response is mailed to the signers who opted in
        self.owner_told = False  # after a take-down or restore: whether the owner's email went
        self.clock = clock
        # Functions mode: end the petition's orchestration / start a new one (None inline: the
        # close sweep finds restored petitions by their state).
        self.on_take_down = on_take_down
        self.on_restore = on_restore
        self.count_publisher = count_publisher  # ends a taken-down petition's pushed-count stream

    # -- reports ------------------------------------------------------------------------------
    def report(self, petition_id, user_id, reason, details):
        details = (details or "").strip()
        if reason not in REPORT_REASONS:
            raise InvalidInput.for_field("reason", "Choose a reason from the list.")
        if len(details) > DETAILS_MAX:
            raise InvalidInput.for_field("details", f"Keep it to {DETAILS_MAX:,} characters.")
        if reason == "other" and not details:
            raise InvalidInput.for_field("details", "Tell us what is wrong with this petition.")
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state != PetitionState.OPEN.value:
            raise NotFound("Only open petitions can be reported.")
        if self.reports.open_report(petition_id, user_id) is not None:
            raise AlreadyReported(ALREADY_REPORTED)
        try:
            report = self.reports.add(PetitionReport(petition_id=petition_id, user_id=user_id,
                                                     reason=reason, details=details))
            self.session.commit()
        except IntegrityError:  # the same person's report at the same moment won the index
            self.session.rollback()
            raise AlreadyReported(ALREADY_REPORTED) from None
        return report

    def queue(self):
        return self.reports.queue()

    def taken_down(self):
        return self.petitions.taken_down()

    def awaiting_response(self, threshold):
        """[(petition, count)] that reached `threshold` and have no published response yet."""
        open_counts = self.store.at_least(threshold)
        rows = self.petitions.awaiting_response(list(open_counts), threshold)
        return [(p, open_counts.get(p.id, p.signature_count)) for p in rows]

    def publish_response(self, petition_id, moderator, body, responded_on):
        """Publishes (or corrects) the official response, shown on the petition's page and in
        the API from then on."""
        body = "\n".join(line.rstrip() for line in (body or "").strip().splitlines())
        if not RESPONSE_MIN <= len(body) <= RESPONSE_MAX:
            raise InvalidInput.for_field("body", f"The response must be {RESPONSE_MIN} to {RESPONSE_MAX:,} characters.")
        petition = self._get(petition_id)
        if petition.state not in (PetitionState.OPEN.value, PetitionState.CLOSED.value):
            raise InvalidTransition("Only open or closed petitions get a response.")
        today = self.clock().date()
        if responded_on is None or responded_on > today or responded_on < as_utc(petition.launched_at).date():
            raise InvalidInput.for_field("responded_on", "Give the date of the response: not before the launch, not in the future.")
        corrected = petition.response is not None
        response = petition.response
        if response is None:
            response = PetitionResponse(petition_id=petition_id)
            self.session.add(response)
        response.body, response.responded_on = body, responded_on
        response.published_at, response.moderator_id, response.moderator_name = (
            self.clock(), moderator.id, moderator.display_name)
        self.audit.add("correct_response" if corrected else "publish_response", moderator.id,
                       moderator.display_name, petition_id, details=f"dated {responded_on.isoformat()}")
        if not corrected and self.mail is not None:  # a correction is not mailed again
            self.mail.add_campaign(petition_id, SIGNERS_RESPONSE, self.clock())
        self.session.commit()
        self.session.refresh(petition)
        if petition.state == PetitionState.OPEN.value:
            self.store.set_response(petition_id, response_dict(petition.response))
        return petition.response

    def petition(self, petition_id):
        """(petition, its open reports, its audit entries) for the moderator's petition page."""
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        entries, _ = self.audit.page(1, 100, petition_id=petition_id)
        return petition, self.reports.open_reports(petition_id), entries

    # -- moderator actions --------------------------------------------------------------------
    def take_down(self, petition_id, moderator, reason):
        reason = " ".join((reason or "").split())
        if not TAKEDOWN_REASON_MIN <= len(reason) <= TAKEDOWN_REASON_MAX:
            raise InvalidInput.for_field("reason", f"Give the reason people will read, {TAKEDOWN_REASON_MIN} to "
                              f"{TAKEDOWN_REASON_MAX:,} characters.")
        petition = self._get(petition_id)
        if petition.state == PetitionState.TAKEN_DOWN.value:
            self.store.take_down(petition_id)  # finishing one whose Redis step failed
            return petition
        transition(petition.state, Action.TAKE_DOWN)
        now = self.clock()
        count = self.store.count(petition_id) or 0
        if not self.petitions.mark_taken_down(petition_id, now, reason, count):
            self.session.rollback()
            raise InvalidTransition("This petition changed meanwhile: it is no longer open.")
        resolved = self.reports.resolve_open(petition_id, now, "taken_down")
        self.audit.add("take_down", moderator.id, moderator.display_name, petition_id,
                       details=f"{reason} ({resolved} open report{'' if resolved == 1 else 's'} resolved)")
        self.session.commit()
        self.session.refresh(petition)
        petition.signature_count = self.store.take_down(petition_id)
        self.session.commit()
        if self.count_publisher is not None:
            self.count_publisher.end(petition_id, petition.signature_count, taken_down=True)
        if self.on_take_down is not None:
            self.on_take_down(petition)
        self._tell_owner(petition, "Your petition has been taken down",
                         f"Our moderators have taken down your petition \"{petition.title}\".\n\n"
                         f"The reason, shown on its page: {reason}\n\n"
                         "It no longer takes signatures; the signatures it has are kept.")
        return petition

    def restore(self, petition_id, moderator):
        petition = self._get(petition_id)
        transition(petition.state, Action.RESTORE)
        if not self.petitions.mark_restored(petition_id):
            self.session.rollback()
            raise InvalidTransition("This petition changed meanwhile: it is no longer taken down.")
        self.audit.add("restore", moderator.id, moderator.display_name, petition_id)
        self.session.commit()
        self.session.refresh(petition)
        self.store.restore(open_document(petition), self.signatures.user_ids_for(petition_id))
        if self.on_restore is not None:
            self.on_restore(petition)
        self._tell_owner(petition, "Your petition is open again",
                         f"Our moderators have restored your petition \"{petition.title}\". "
                         "It takes signatures again until its closing date.")
        return petition

    def dismiss_reports(self, petition_id, moderator, note=""):
        note = " ".join((note or "").split())
        if len(note) > DETAILS_MAX:
            raise InvalidInput.for_field("note", f"Keep it to {DETAILS_MAX:,} characters.")
        self._get(petition_id)
        resolved = self.reports.resolve_open(petition_id, self.clock(), "dismissed")
        if not resolved:
            self.session.rollback()
            raise InvalidTransition("There are no open reports to dismiss.")
        self.audit.add("dismiss_reports", moderator.id, moderator.display_name, petition_id,
                       details=f"{resolved} report{'' if resolved == 1 else 's'} dismissed. {note}".strip())
        self.session.commit()
        return resolved

    def set_moderator(self, email, grant):
        """`flask users grant-moderator / revoke-moderator EMAIL`; logged. Returns the user."""
        user = self.users.by_mailbox(mailbox_of(email))
        if user is None:
            raise NotFound(f"No account has the address {email}.")
        user.is_moderator = grant
        self.audit.add("grant_moderator" if grant else "revoke_moderator", None, COMMAND_LINE,
                       user_id=user.id, details=user.email)
        self.session.commit()
        return user

    def log_page(self, page, page_size=100):
        return self.audit.page(page, page_size)

    def _get(self, petition_id):
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        return petition

    def _tell_owner(self, petition, subject, body):
        """Best effort: the action has committed; a failed send is logged. `owner_told` says
        whether the mail went, so the moderator is not told it did when it did not."""
        self.owner_told = False
        owner = self.users.get(petition.owner_id) if self.users is not None else None
        if owner is None or self.mailer is None:
            return
        try:
            self.mailer.send(owner.email, subject, f"Hello {owner.display_name},\n\n{body}\n")
        except SEND_ERRORS:
            log.exception("could not tell the owner of petition %s: %s", petition.id, subject)
        else:
            self.owner_told = True

