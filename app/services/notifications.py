"""Tells a petition's owner it has closed (a notification record, and an email when mail is set
up), and records the mailing to its signers who asked to hear of the close."""
import logging

from app.domain.errors import InvalidTransition, NotFound
from app.domain.petitions import PetitionState, utcnow
from app.repositories.models import Notification
from app.services.mail_job import SIGNERS_CLOSED

log = logging.getLogger(__name__)

PETITION_CLOSED = "petition_closed"


class NotificationService:
    def __init__(self, session, petitions, users, notifications, reports, mail, mailer=None, clock=utcnow):
        self.session = session
        self.petitions = petitions
        self.users = users
        self.notifications = notifications
        self.reports = reports
        self.mail = mail
        self.mailer = mailer
        self.clock = clock

    def notify_closed(self, petition_id):
        """Records the 'your petition closed' message once; emails it once when a mailer is set.
        Safe to repeat: a recorded message is not recorded again, a sent one not sent again."""
        petition = self.petitions.get(petition_id)
        if petition is None:
            raise NotFound("No such petition.")
        if petition.state != PetitionState.CLOSED.value:
            raise InvalidTransition("The owner is told only once the petition has closed.")
        notification = self.notifications.get(petition_id, PETITION_CLOSED)
        if notification is None:
            notification = self.notifications.add(self._compose(petition))
            # The signers who asked to hear of the close: the mail job writes to them.
            self.mail.add_campaign(petition_id, SIGNERS_CLOSED, self.clock())
            self.session.commit()
        if self.mailer is not None and notification.emailed_at is None:
            self._email_once(petition, notification)
        return notification

    def _email_once(self, petition, notification):
        """Two closes racing (the sweep and a timer) must not both send: the row lock makes the
        second wait, then see it sent."""
        notification = self.notifications.get_locked(petition.id, notification.kind)
        owner = self.users.get(petition.owner_id)
        if notification.emailed_at is None and owner is not None:
            self.mailer.send(owner.email, notification.subject, notification.body)
            notification.emailed_at = self.clock()
        self.session.commit()  # releases the lock

    def _compose(self, petition):
        report = self.reports.get(petition.id)
        count = report.final_count if report is not None else petition.signature_count
        lines = [
            f"Your petition \"{petition.title}\" has closed with {count:,} signature{'' if count == 1 else 's'}.",
        ]
        if report is not None and report.milestones:
            reached = ", ".join(f"{m:,}" for m, _ in report.milestones)
            lines.append(f"Milestones reached: {reached}.")
        lines.append("The closing report is on the petition's page.")
        return Notification(
            petition_id=petition.id,
            user_id=petition.owner_id,
            kind=PETITION_CLOSED,
            subject="Your petition has closed",
            body="\n\n".join(lines),
        )
