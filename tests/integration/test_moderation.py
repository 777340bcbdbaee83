"""Moderation through the real forms on the real PostgreSQL and Redis: the moderator role, reports
of petitions, the queue, take-down and restore, and the audit log."""
import re
import threading

import pytest
from sqlalchemy import func, select

from app.domain.errors import NotOpenForSigning
from app.domain.petitions import utcnow
from app.repositories import redis_keys as keys
from app.repositories.models import ModerationAction, PetitionReport, Signature
from app.services.mail import read_mail_dir
from app.web import wiring
from app.web.extensions import db
from config.settings import TestConfig as BaseTestConfig
from tests.helpers import csrf_token, post_form, sign
from tests.integration.support import close_now, login_as, make_draft, make_open, make_user, petition_row

ERROR_RE = re.compile(r'class="error-message"[^>]*>([^<]*)<')
REASON = "It names and insults a private person."


@pytest.fixture
def config(migrated_databases):
    config = BaseTestConfig()
    config.REPORT_RATE_LIMIT = "3 per hour"
    return config


def run(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def petition(app, owner):
    return make_open(app, owner, "Rename the park after our councillor")


def browser_as(app, user):
    client = app.test_client()
    login_as(client, user)
    return client


def text(response):
    return response.get_data(as_text=True)


def report(client, petition_id, reason="personal", details="Look at the second paragraph."):
    return post_form(client, f"/petitions/{petition_id}/flag", {"reason": reason, "details": details})


def take_down(client, petition_id, reason=REASON):
    return post_form(client, f"/moderation/petitions/{petition_id}/take-down", {"reason": reason},
                     token_from=f"/moderation/petitions/{petition_id}")


def log_actions(app):
    with app.app_context():
        return [(e.action, e.moderator_name, e.petition_id)
                for e in db.session.scalars(select(ModerationAction).order_by(ModerationAction.id))]


def open_reports(app, petition_id):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PetitionReport).where(
            PetitionReport.petition_id == petition_id, PetitionReport.resolved_at.is_(None)))


# -- who reaches /moderation --------------------------------------------------------------------
def moderation_urls(app, petition_id):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("moderation."):
            method = "POST" if "POST" in rule.methods else "GET"
            yield method, rule.build({"petition_id": petition_id} if "petition_id" in rule.arguments else {})[1]


def test_every_moderation_route_is_403_for_a_signed_in_non_moderator(app, petition, owner):
    client = browser_as(app, owner)
    token = csrf_token(client, "/")
    urls = list(moderation_urls(app, petition))
    assert len(urls) == 8
    for method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token, "reason": REASON})
        assert response.status_code == 403, (method, url)
        assert "These pages are for moderators." in text(response)
    assert petition_row(app, petition)["state"] == "open" and log_actions(app) == []


def test_anonymous_visitors_are_sent_to_log_in(app, petition):
    for method, url in moderation_urls(app, petition):
        if method == "GET":
            response = app.test_client().get(url)
            assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login"), url


def test_a_moderator_granted_and_revoked_on_the_command_line(app, moderator, mod_client):
    assert mod_client.get("/moderation").status_code == 200
    assert 'href="/moderation">Moderation</a>' in text(mod_client.get("/"))
    mod_client.get("/")  # the card is cached with the role
    revoked = run(app, "users", "revoke-moderator", "MO@example.com")
    assert revoked.exit_code == 0 and "no longer a moderator" in revoked.output
    assert mod_client.get("/moderation").status_code == 403  # at once, cached card or not
    assert [(a, who) for a, who, _ in log_actions(app)] == [("grant_moderator", "command line"),
                                                          ("revoke_moderator", "command line")]
    unknown = run(app, "users", "grant-moderator", "nobody@example.com")
    assert unknown.exit_code != 0 and "No account has the address nobody@example.com." in unknown.output


# -- reporting ----------------------------------------------------------------------------------
def test_report_a_petition_once_with_a_reason(app, petition, owner):
    sam = browser_as(app, make_user(app, "sam@example.com"))
    assert "Report this petition" in text(sam.get(f"/petitions/{petition}"))
    sent = report(sam, petition)
    assert sent.status_code == 303
    assert "Thank you. Our moderators will look at this petition." in text(sam.get(sent.headers["Location"]))
    again = report(sam, petition)
    assert again.status_code == 303
    assert "You have reported this petition already." in text(sam.get(again.headers["Location"]))
    assert open_reports(app, petition) == 1


@pytest.mark.parametrize("data, message", [
    ({"reason": "because", "details": ""}, "Not a valid choice."),
    ({"details": "no reason"}, "Choose a reason from the list."),
    ({"reason": "other", "details": "  "}, "Tell us what is wrong with this petition."),
    ({"reason": "spam", "details": "x" * 1001}, "Field cannot be longer than 1000 characters."),
])
def test_bad_reports_get_a_field_message_and_save_nothing(app, petition, data, message):
    sam = browser_as(app, make_user(app, "sam@example.com"))
    refused = post_form(sam, f"/petitions/{petition}/flag", data)
    assert refused.status_code == 400
    assert message in ERROR_RE.findall(text(refused))
    assert open_reports(app, petition) == 0


def test_only_open_petitions_can_be_reported_by_people_signed_in_and_confirmed(app, owner, petition):
    draft = make_draft(app, owner, "A draft nobody else can see")
    sam = browser_as(app, make_user(app, "sam@example.com"))
    assert sam.get(f"/petitions/{draft}/flag").status_code == 404
    assert sam.get("/petitions/99999/flag").status_code == 404
    anonymous = app.test_client().get(f"/petitions/{petition}/flag")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/auth/login")
    unconfirmed = browser_as(app, make_user(app, "new@example.com", confirmed=False))
    assert unconfirmed.get(f"/petitions/{petition}/flag").status_code == 403


def test_reports_are_rate_limited_per_person(app, owner):
    sam = browser_as(app, make_user(app, "sam@example.com"))
    petitions = [make_open(app, owner, f"Petition number {n} to report") for n in range(4)]
    for petition_id in petitions[:3]:
        assert report(sam, petition_id).status_code == 303
    assert report(sam, petitions[3]).status_code == 429
    assert open_reports(app, petitions[3]) == 0


def test_the_queue_lists_the_most_reported_first_and_dismissing_clears_it(app, owner, mod_client):
    once = make_open(app, owner, "Reported by one person only")
    thrice = make_open(app, owner, "Reported by three people here")
    reporters = [browser_as(app, make_user(app, f"r{n}@example.com")) for n in range(3)]
    for reporter in reporters:
        assert report(reporter, thrice).status_code == 303
    assert report(browser_as(app, make_user(app, "r9@example.com")), once).status_code == 303
    queue = text(mod_client.get("/moderation"))
    assert queue.index("Reported by three people here") < queue.index("Reported by one person only")

    dismissed = post_form(mod_client, f"/moderation/petitions/{thrice}/dismiss", {"note": "Within the rules."},
                          token_from=f"/moderation/petitions/{thrice}")
    assert dismissed.status_code == 303
    assert "Reported by three people here" not in text(mod_client.get("/moderation"))
    assert open_reports(app, thrice) == 0
    assert log_actions(app)[-1] == ("dismiss_reports", "Mo Moderator", thrice)
    assert report(reporters[0], thrice).status_code == 303  # may report anew
    assert open_reports(app, thrice) == 1


# -- take-down and restore ----------------------------------------------------------------------
def test_take_down_removes_it_everywhere_keeps_its_signatures_and_tells_the_owner(app, petition, owner, mod_client):
    signers = [make_user(app, f"s{n}@example.com") for n in range(3)]
    for user in signers[:2]:
        assert sign(browser_as(app, user), petition).status_code == 303
    report(browser_as(app, signers[2]), petition)

    assert take_down(mod_client, petition).status_code == 303
    row = petition_row(app, petition)
    assert row["state"] == "taken_down" and row["takedown_reason"] == REASON and row["signature_count"] == 2
    anonymous = app.test_client()
    assert "Rename the park" not in text(anonymous.get("/"))
    assert app.test_client().get("/api/petitions?q=rename").get_json()["meta"]["total"] == 0
    page = text(anonymous.get(f"/petitions/{petition}"))
    assert "Taken down" in page and f"<strong>Reason:</strong> {REASON}" in page and "It had 2 signatures." in page
    assert "Report this petition" not in page and "Sign this petition" not in page
    api = anonymous.get(f"/api/petitions/{petition}").get_json()
    assert api["state"] == "taken_down" and api["body"] is None and api["taken_down"]["reason"] == REASON
    refused = sign(browser_as(app, signers[2]), petition)
    assert refused.status_code == 409
    with app.app_context():
        wiring.persister(consumer="t").drain()
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 2
    assert open_reports(app, petition) == 0
    [note] = [m for m in read_mail_dir(app.config["MAIL_DIR"]) if m.subject == "Your petition has been taken down"]
    assert note.to == "owner@example.com" and REASON in note.body
    assert log_actions(app)[-1] == ("take_down", "Mo Moderator", petition)
    assert "Taken down" in text(browser_as(app, owner).get("/my/petitions"))


def test_the_moderator_is_told_when_the_owner_could_not_be_emailed(app, petition, mod_client):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:9"  # nothing listens: the send fails
    response = take_down(mod_client, petition)
    assert response.status_code == 303 and petition_row(app, petition)["state"] == "taken_down"
    page = text(mod_client.get(f"/moderation/petitions/{petition}"))
    assert "could not be emailed" in page and "has been emailed" not in page


def test_a_take_down_needs_a_reason_people_can_read(app, petition, mod_client):
    refused = take_down(mod_client, petition, reason="bad")
    assert refused.status_code == 400
    assert "Field must be between 10 and 1000 characters long." in ERROR_RE.findall(text(refused))
    assert petition_row(app, petition)["state"] == "open"


def test_restore_puts_it_back_with_every_signature(app, petition, owner, mod_client):
    first, second = make_user(app, "a@example.com"), make_user(app, "b@example.com")
    assert sign(browser_as(app, first), petition).status_code == 303
    take_down(mod_client, petition)
    app.extensions["redis"].delete(keys.signers(petition))  # as if Redis had been rebuilt meanwhile
    with app.app_context():
        wiring.persister(consumer="t").drain()
    restored = post_form(mod_client, f"/moderation/petitions/{petition}/restore", {},
                         token_from=f"/moderation/petitions/{petition}")
    assert restored.status_code == 303
    assert petition_row(app, petition)["state"] == "open"
    assert "Rename the park" in text(app.test_client().get("/"))
    assert app.test_client().get(f"/api/petitions/{petition}/count").get_json()["signature_count"] == 1
    assert sign(browser_as(app, second), petition).status_code == 303
    assert app.extensions["redis"].scard(keys.signers(petition)) == 2
    assert any(m.subject == "Your petition is open again" for m in read_mail_dir(app.config["MAIL_DIR"]))
    assert [a for a, *_ in log_actions(app)][-2:] == ["take_down", "restore"]
    again = post_form(mod_client, f"/moderation/petitions/{petition}/restore", {},
                      token_from=f"/moderation/petitions/{petition}")
    assert again.status_code == 409  # only a taken-down petition can be restored


def test_take_down_while_signatures_are_in_flight_loses_none_it_acknowledged(app, owner, moderator):
    petition_id = make_open(app, owner, "Signed while it is taken down")
    user_ids = list(range(1000, 1400))
    acknowledged, refused, start = [], [], threading.Barrier(5)

    def signer(ids):
        with app.app_context():
            signing = wiring.signing()
            start.wait()
            for uid in ids:
                try:
                    signing.sign(petition_id, uid)
                    acknowledged.append(uid)
                except NotOpenForSigning:
                    refused.append(uid)

    threads = [threading.Thread(target=signer, args=(user_ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    with app.app_context():
        wiring.moderation().take_down(petition_id, type("Mo", (), {"id": moderator["id"], "display_name": "Mo"}), REASON)
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) + len(refused) == len(user_ids)
    with app.app_context():
        wiring.persister(consumer="t").drain()
        in_sql = set(db.session.scalars(select(Signature.user_id).where(Signature.petition_id == petition_id)))
    assert in_sql == set(acknowledged)
    assert petition_row(app, petition_id)["signature_count"] == len(acknowledged)


def test_a_rebuilt_redis_keeps_a_taken_down_petition_out_and_refusing(app, petition, mod_client):
    take_down(mod_client, petition)
    app.extensions["redis"].flushdb()
    with app.app_context():
        assert wiring.services().restore_index() is True
    assert app.test_client().get("/api/petitions").get_json()["meta"]["total"] == 0
    refused = sign(browser_as(app, make_user(app, "late@example.com")), petition)
    assert refused.status_code == 409 and "taken this petition down" in text(refused)


def test_the_audit_log_pages_every_action(app, petition, mod_client):
    take_down(mod_client, petition)
    page = text(mod_client.get("/moderation/log"))
    assert "take down" in page and "Mo Moderator" in page and REASON in page and "grant moderator" in page
    assert mod_client.get("/moderation/log?page=0").status_code == 400
    assert mod_client.get("/moderation/log?page=abc").status_code == 400


# -- thresholds and responses -------------------------------------------------------------------
@pytest.fixture
def low_thresholds(app):
    app.config.update(RESPONSE_THRESHOLD=3, DEBATE_THRESHOLD=5)


def sign_by(app, petition_id, count, start=2000):
    with app.app_context():
        for uid in range(start, start + count):
            wiring.signing().sign(petition_id, uid)


def publish(client, petition_id, body="The government has considered this petition carefully.", day=None):
    day = utcnow().date().isoformat() if day is None else day
    return post_form(client, f"/moderation/petitions/{petition_id}/response", {"body": body, "responded_on": day},
                     token_from=f"/moderation/petitions/{petition_id}")


def test_the_page_and_api_show_which_thresholds_are_reached(app, petition, low_thresholds):
    sign_by(app, petition, 3)
    page = text(app.test_client().get(f"/petitions/{petition}"))
    assert "3 signatures: the government responds.\n<strong>Reached.</strong>" in page
    assert "5 signatures: considered for debate.\n2 more needed." in page
    api = app.test_client().get(f"/api/petitions/{petition}").get_json()
    assert api["thresholds"] == [{"kind": "response", "signatures": 3, "reached": True},
                                 {"kind": "debate", "signatures": 5, "reached": False}]
    assert api["response"] is None


def test_a_published_response_appears_on_the_page_in_the_api_and_survives_a_rebuild(
    app, owner, petition, mod_client, low_thresholds
):
    below = make_open(app, owner, "Not enough signatures for an answer")
    sign_by(app, petition, 4)
    sign_by(app, below, 2, start=3000)
    queue = text(mod_client.get("/moderation"))
    awaiting = queue[queue.index("Awaiting a response"):queue.index("Taken down</h2>")]
    assert "Rename the park" in awaiting and "Not enough signatures" not in awaiting

    assert publish(mod_client, petition, body="We have read it.\nThe park keeps its name.").status_code == 303
    page = text(app.test_client().get(f"/petitions/{petition}"))
    today = utcnow().date()
    assert "Government response" in page and "<p>The park keeps its name.</p>" in page
    assert f"Responded on {today.day} {today:%B %Y}" in page
    api = app.test_client().get(f"/api/petitions/{petition}").get_json()
    assert api["response"]["body"] == "We have read it.\nThe park keeps its name."
    assert api["response"]["responded_on"] == today.isoformat()
    assert "Rename the park" not in text(mod_client.get("/moderation")).split("Awaiting a response")[1].split("Taken down</h2>")[0]
    assert log_actions(app)[-1] == ("publish_response", "Mo Moderator", petition)

    app.extensions["redis"].flushdb()
    with app.app_context():
        assert wiring.services().restore_index() is True
    assert app.test_client().get(f"/api/petitions/{petition}").get_json()["response"]["body"].startswith("We have read it.")


@pytest.mark.parametrize("body, day, message", [
    ("Too short.", None, "Field must be between 20 and 10000 characters long."),
    ("A response long enough to publish here.", "", "Enter the date of the response."),
    ("A response long enough to publish here.", "2999-01-01", "Give the date of the response: not before the launch, not in the future."),
    ("A response long enough to publish here.", "2020-01-01", "Give the date of the response: not before the launch, not in the future."),
])
def test_a_bad_response_gets_a_field_message_and_publishes_nothing(app, petition, mod_client, body, day, message):
    refused = publish(mod_client, petition, body=body, day=day)
    assert refused.status_code == 400
    assert message in ERROR_RE.findall(text(refused))
    assert app.test_client().get(f"/api/petitions/{petition}").get_json()["response"] is None


def test_a_closed_petition_over_the_threshold_awaits_its_response_too(app, owner, mod_client, low_thresholds):
    petition_id = make_open(app, owner, "Closed with enough signatures")
    close_now(app, petition_id, utcnow(), 4)
    assert "Closed with enough signatures" in text(mod_client.get("/moderation"))
    assert publish(mod_client, petition_id).status_code == 303
    assert "Government response" in text(app.test_client().get(f"/petitions/{petition_id}"))
    assert "Closed with enough signatures" not in text(mod_client.get("/moderation"))
