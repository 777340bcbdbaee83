"""With SMTP_URL set, the owner of a closed petition gets one email, received by a real SMTP
server on localhost, however many closes race."""
import threading

import pytest

from app.web import wiring
from app.web.extensions import db
from app.repositories.petitions_sql import PetitionRepository
from app.services.petitions import PetitionService
from config.settings import TestConfig as BaseTestConfig
from tests.integration.support import close_now, make_open, make_user
from tests.smtp import smtp_server

SMTP_PORT = 5312


@pytest.fixture
def inbox():
    with smtp_server(SMTP_PORT) as inbox:
        yield inbox


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
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["olive@example.com"]
    assert message["Subject"] == "Your petition has closed"
    assert "has closed with 0 signatures" in inbox.bodies_to("olive@example.com")[0]


def test_two_closes_racing_send_one_email(app, clock):
    with smtp_server(SMTP_PORT, delay=0.3) as inbox:  # slow to accept, so the two senders overlap
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
    assert len(inbox.messages) == 1
    assert inbox.messages[0][0] == ["olive@example.com"]
