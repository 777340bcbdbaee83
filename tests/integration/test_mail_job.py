"""The mail job against the real PostgreSQL, Redis and an SMTP server (aiosmtpd): owners told at
each threshold exactly once, even by two workers at the same moment; signers who opted in told of
the response and the close; unsubscribe links; failed sends retried without touching signing."""
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.invalidations import criterion
from app.domain.petitions import utcnow
from app.domain.signers import notify_flags
from app.repositories.models import MailDelivery, Signature
from app.web import wiring
from app.web.extensions import db
from config.settings import TestConfig as BaseTestConfig
from tests.helpers import csrf_token, post_form
from tests.integration.support import Moderator, login_as, make_open, make_user
from tests.smtp import smtp_server

SMTP_PORT = 5314
UNSUBSCRIBE = re.compile(r"https://petitions\.test(/petitions/\d+/unsubscribe/\S+)")


@pytest.fixture
def config(migrated_databases):
    config = BaseTestConfig()
    config.SMTP_URL = f"smtp://127.0.0.1:{SMTP_PORT}"
    config.RESPONSE_THRESHOLD, config.DEBATE_THRESHOLD = 3, 5
    return config


@pytest.fixture
def inbox():
    with smtp_server(SMTP_PORT) as inbox:
        yield inbox


@pytest.fixture
def petition(app, owner):
    return make_open(app, owner, "Light the canal towpath")


def signers(app, petition_id, n, notify=("", ), start=1):
    """n new users sign; the i-th gets notify[i % len(notify)] as opt-ins. Returns their users."""
    users = []
    with app.app_context():
        for i in range(n):
            user = make_user(app, f"signer{start + i}@example.com", f"Signer {start + i}")
            wiring.signing().sign(petition_id, user["id"], "203.0.113.9", user["email"], notify[i % len(notify)])
            users.append(user)
    return users


def run_job(app, clock=None):
    with app.app_context():
        job = wiring.mail_job()
        if clock is not None:
            job.clock = clock
        return job.run_once()


def deliveries(app, petition_id):
    with app.app_context():
        return [(d.kind, d.user_id, d.status, d.attempts) for d in
                db.session.scalars(select(MailDelivery).where(MailDelivery.petition_id == petition_id)
                                   .order_by(MailDelivery.id))]


def subjects_to(inbox, address):
    return [m["Subject"] for to, m in inbox.messages if address in to]


def test_the_owner_is_told_once_at_each_threshold(app, inbox, owner, petition):
    signers(app, petition, 2)
    assert run_job(app).sent == 0  # 2 of 3: nothing yet
    signers(app, petition, 1, start=10)
    assert run_job(app).sent == 1
    assert run_job(app).sent == 0  # the next run does not repeat it
    assert subjects_to(inbox, owner["email"]) == ["Your petition has reached 3 signatures"]
    signers(app, petition, 2, start=20)
    run_job(app)
    assert subjects_to(inbox, owner["email"]) == ["Your petition has reached 3 signatures",
                                                  "Your petition has reached 5 signatures"]
    message = [m for to, m in inbox.messages if owner["email"] in to][-1]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "considered for debate" in body and f"https://petitions.test/petitions/{petition}" in body
    link = UNSUBSCRIBE.search(body).group(1)
    assert message["List-Unsubscribe"] == f"<https://petitions.test{link}>"


def test_two_workers_crossing_a_threshold_together_send_one_email(app, owner):
    """Two workers run each step of the job at the same moment: both see the thresholds reached,
    both expand the campaigns, both send. The SMTP server is slow, so the first sender still
    holds its deliveries while the second looks for work."""
    petitions = [make_open(app, owner, f"Petition number {i} about the towpath") for i in range(3)]
    for i, petition_id in enumerate(petitions):
        signers(app, petition_id, 3, start=100 * (i + 1))
    step = threading.Barrier(2)
    sent, errors = [], []

    def worker():
        try:
            with app.app_context():
                job = wiring.mail_job()
                step.wait()
                job.record_thresholds()
                step.wait()
                job.expand_campaigns()
                step.wait()
                sent.append(job.send_due().sent)
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            errors.append(error)

    with smtp_server(SMTP_PORT, delay=0.3) as inbox:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors
    assert sum(sent) == 3 and len(subjects_to(inbox, owner["email"])) == 3
    for petition_id in petitions:
        assert deliveries(app, petition_id) == [("owner_threshold_response", owner["id"], "sent", 1)]


def test_signers_who_opted_in_hear_of_the_response_and_the_close_once(app, inbox, petition):
    both, response_only, none, removed = signers(
        app, petition, 4, notify=(notify_flags(True, True), notify_flags(True, False), "", notify_flags(True, True)))
    with app.app_context():
        service = wiring.invalidations()
        service.invalidate(petition, Moderator(), criterion("user", None, user_id=removed["id"]), "A duplicate account.")
        wiring.moderation().publish_response(petition, Moderator(), "The government has considered it.", utcnow().date())
        wiring.moderation().publish_response(petition, Moderator(), "The corrected response text here.", utcnow().date())
    run_job(app)
    assert subjects_to(inbox, both["email"]) == ["The petition you signed has a response"]
    assert subjects_to(inbox, response_only["email"]) == ["The petition you signed has a response"]
    assert subjects_to(inbox, none["email"]) == [] and subjects_to(inbox, removed["email"]) == []
    body = [m for to, m in inbox.messages if both["email"] in to][0].get_body(preferencelist=("plain",)).get_content()
    assert "The corrected response text here." in body  # composed when sent, not when queued

    with app.app_context():
        wiring.close_coordinator().finish(petition)
    run_job(app)
    run_job(app)
    assert subjects_to(inbox, both["email"]) == ["The petition you signed has a response",
                                                 "The petition you signed has closed"]
    assert subjects_to(inbox, response_only["email"]) == ["The petition you signed has a response"]
    closed = [m for to, m in inbox.messages if both["email"] in to][1].get_body(preferencelist=("plain",)).get_content()
    assert "has closed with 3 signatures" in closed


def test_the_unsubscribe_link_stops_the_next_email(app, inbox, petition):
    (signer,) = signers(app, petition, 1, notify=(notify_flags(True, True),))
    with app.app_context():
        wiring.moderation().publish_response(petition, Moderator(), "The government has considered it.", utcnow().date())
    run_job(app)
    body = inbox.bodies_to(signer["email"])[0]
    link = UNSUBSCRIBE.search(body).group(1)
    client = app.test_client()
    page = client.get(link)
    assert page.status_code == 200 and "Stop these emails" in page.get_data(as_text=True)
    assert client.post(link, data={}).status_code == 400  # no CSRF token: nothing changes
    done = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert done.status_code == 200 and "no more emails" in done.get_data(as_text=True)
    with app.app_context():
        wiring.close_coordinator().finish(petition)
    run_job(app)
    assert len(inbox.bodies_to(signer["email"])) == 1
    assert ("signers_closed", signer["id"], "pending", 0) not in deliveries(app, petition)


@pytest.mark.parametrize("mangle", [lambda link: link[:-3] + "xyz", lambda link: link.replace("/petitions/", "/petitions/9", 1)])
def test_a_bad_unsubscribe_link_says_so(app, inbox, petition, mangle):
    (signer,) = signers(app, petition, 1, notify=(notify_flags(True, True),))
    with app.app_context():
        wiring.moderation().publish_response(petition, Moderator(), "The government has considered it.", utcnow().date())
    run_job(app)
    link = mangle(UNSUBSCRIBE.search(inbox.bodies_to(signer["email"])[0]).group(1))
    response = app.test_client().get(link)
    assert response.status_code in (400, 404)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_failed_send_is_retried_with_backoff_and_never_blocks_signing(app, owner, petition):
    signers(app, petition, 3)  # crosses the threshold; no SMTP server is listening
    now = utcnow()
    run = run_job(app, clock=lambda: now)
    assert run.sent == 0 and run.retrying == 1
    signers(app, petition, 1, start=50)  # signing goes on while mail waits
    assert run_job(app, clock=lambda: now + timedelta(seconds=30)).retrying == 0  # not due yet
    with smtp_server(SMTP_PORT) as inbox:
        assert run_job(app, clock=lambda: now + timedelta(minutes=2)).sent == 1
    assert subjects_to(inbox, owner["email"]) == ["Your petition has reached 3 signatures"]
    assert deliveries(app, petition) == [("owner_threshold_response", owner["id"], "sent", 2)]


def test_a_send_that_keeps_failing_is_given_up_after_the_last_attempt(app, config, owner, petition):
    config.MAIL_MAX_ATTEMPTS = app.config["MAIL_MAX_ATTEMPTS"] = 2
    signers(app, petition, 3)
    now = utcnow()
    run_job(app, clock=lambda: now)
    assert run_job(app, clock=lambda: now + timedelta(hours=1)).failed == 1
    assert deliveries(app, petition) == [("owner_threshold_response", owner["id"], "failed", 2)]


def test_the_sign_form_records_the_opt_ins_and_the_cli_runs_the_job(app, inbox, petition):
    user = make_user(app, "ticks@example.com")
    client = app.test_client()
    login_as(client, user)
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert 'name="notify_response"' in page and 'name="notify_close"' in page
    response = post_form(client, f"/petitions/{petition}/sign", {"notify_close": "y"}, token_from=f"/petitions/{petition}")
    assert response.status_code == 303
    with app.app_context():
        wiring.persister(consumer="t").drain()
        row = db.session.scalar(select(Signature).where(Signature.petition_id == petition, Signature.user_id == user["id"]))
        assert (row.notify_response, row.notify_close) == (False, True)
        wiring.close_coordinator().finish(petition)
        result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "1 sent" in result.output
    assert [m["Subject"] for to, m in inbox.messages if user["email"] in to] == ["The petition you signed has closed"]


def test_without_a_mail_server_configured_deliveries_wait_untouched(app, owner, petition):
    app.config.update(SMTP_URL=None, MAIL_DIR=None)
    signers(app, petition, 3)
    run = run_job(app)
    assert (run.campaigns, run.queued, run.sent, run.retrying) == (1, 1, 0, 0)
    assert deliveries(app, petition) == [("owner_threshold_response", owner["id"], "pending", 0)]
