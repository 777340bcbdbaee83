"""With SMTP_URL set, the owner of a closed petition gets one email (a local SMTP server
receives it); without it, only the notification record is written."""
import asyncio
import threading

import pytest
from aiosmtpd.controller import Controller

from app.web import wiring
from app.web.extensions import db
from app.repositories.petitions_sql import PetitionRepository
from app.services.petitions import PetitionService
from config.settings import TestConfig as BaseTestConfig
from tests.integration.support import close_now, make_open, make_user

SMTP_PORT = 5312


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield handler.messages
    controller.stop()


@pytest.fixture
def config(migrated_databases):
    config = BaseTestConfig()
    config.SMTP_URL = f"smtp://127.0.0.1:{SMTP_PORT}"
    config.MAIL_SENDER = "petitions@example.org"
    return config


def test_owner_is_emailed_once_when_the_petition_closes(app, inbox, clock):
    with app.app_context():
        owner = wiring.accounts().register("olive@example.com", "Olive", "correct horse battery")
        service = PetitionService(db.session, PetitionRepository(db.session), wiring.open_store(), clock=clock)
        petition = service.create_draft(owner, "Light the canal towpath at night", "Safer walks home.", 1)
        service.launch(petition.id, owner.id)
        coordinator = wiring.close_coordinator()
        coordinator.finish(petition.id)
        notification = wiring.services().notifications().notify_closed(petition.id)  # again: no resend
        assert notification.emailed_at is not None
    assert len(inbox) == 1
    recipients, content = inbox[0]
    assert recipients == ["olive@example.com"]
    assert "Subject: Your petition has closed" in content
    assert "has closed with 0 signatures" in content


class SlowInbox(Inbox):
    """Takes a while to accept each message, so two senders overlap."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)


def test_two_closes_racing_send_one_email(app, clock):
    handler = SlowInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        owner = make_user(app, "olive@example.com")
        petition_id = make_open(app, owner, "Light the canal towpath at night", days=1)
        close_now(app, petition_id, clock(), 0)
        start = threading.Barrier(2)

        def notify():
            with app.app_context():
                start.wait()
                wiring.services().notifications().notify_closed(petition_id)

        workers = [threading.Thread(target=notify) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
    finally:
        controller.stop()
    assert len(handler.messages) == 1
    assert handler.messages[0][0] == ["olive@example.com"]
