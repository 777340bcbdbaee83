"""Verified signers, end to end: the mail arrives at a real SMTP server (aiosmtpd on localhost),
its link confirms the address, and until then no path signs or launches."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.domain.petitions import utcnow
from app.repositories import redis_keys as keys
from app.services.email_links import EmailLinks
from app.services.signing_tokens import SigningTokens
from app.web import wiring
from config.settings import TestConfig as BaseTestConfig
from tests.helpers import DEFAULT_PASSWORD, create_draft, csrf_token, launch, login, logout, post_form, register, sign
from tests.integration.support import make_open, make_user, petition_row
from tests.smtp import smtp_server

SMTP_PORT = 5313
LINK = re.compile(r"https://petitions\.test(/auth/confirm/\S+)")


@pytest.fixture
def inbox():
    with smtp_server(SMTP_PORT) as inbox:
        yield inbox


@pytest.fixture
def config(migrated_databases):
    config = BaseTestConfig()
    config.SMTP_URL = f"smtp://127.0.0.1:{SMTP_PORT}"
    config.EMAIL_LINK_RATE_LIMIT = "2 per hour"
    return config


def link_in(inbox, address, newest=True):
    links = [m.group(1) for body in inbox.bodies_to(address) if (m := LINK.search(body))]
    assert links, f"no confirmation link reached {address}"
    return links[-1] if newest else links[0]


def page_text(response):
    return response.get_data(as_text=True)


def signers(app, petition_id):
    return app.extensions["redis"].smembers(keys.signers(petition_id))


@pytest.fixture
def petition(app):
    return make_open(app, make_user(app, "owner@example.com"))


def test_register_then_the_mailed_link_then_sign(app, client, inbox, petition):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    [(recipients, message)] = inbox.messages
    assert recipients == ["sam@example.com"] and message["Subject"] == "Confirm your email address"

    confirmed = client.get(link_in(inbox, "sam@example.com"))
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/auth/account"
    account = page_text(client.get("/auth/account"))
    assert "Thank you: your email address is confirmed." in account and "not confirmed yet" not in account
    assert sign(client, petition).status_code == 303
    assert len(signers(app, petition)) == 1
    assert 'data-sign-token="' not in page_text(client.get(f"/petitions/{petition}"))  # signed: no button


def test_until_confirmed_the_form_refuses_with_a_resend_button_and_records_nothing(app, client, inbox, petition):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    page = page_text(client.get(f"/petitions/{petition}"))
    assert "Confirm your email address to sign" in page and "Send the link again" in page
    assert 'data-sign-token="' not in page  # no token is minted for an unconfirmed signer

    refused = sign(client, petition)
    assert refused.status_code == 403
    assert "Confirm your email address to sign" in page_text(refused) and "Send the link again" in page_text(refused)
    assert signers(app, petition) == set()


def test_the_signing_endpoint_refuses_a_token_minted_before_confirmation(app, client, petition):
    sam = make_user(app, "sam@example.com", confirmed=False)
    token = SigningTokens(app.config["SIGNING_TOKEN_SECRET"]).sign_token(sam["id"], petition, confirmed=False)
    refused = client.post(f"/api/petitions/{petition}/signatures", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "email_not_confirmed"
    assert signers(app, petition) == set()


def test_launch_waits_for_confirmation_and_the_draft_stays_a_draft(app, client, inbox):
    register(client, "olive@example.com", "Olive Owner", confirm=False)
    petition_id = create_draft(client)
    draft = page_text(client.get(f"/petitions/{petition_id}"))
    assert "Confirm your email address before you launch" in draft and "Launch petition" not in draft
    refused = launch(client, petition_id)
    assert refused.status_code == 403 and "Send the link again" in page_text(refused)
    assert petition_row(app, petition_id)["state"] == "draft"

    client.get(link_in(inbox, "olive@example.com"))
    assert launch(client, petition_id).status_code == 302
    assert petition_row(app, petition_id)["state"] == "open"


def test_a_link_works_once_and_a_second_click_says_so(app, client, inbox):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    link = link_in(inbox, "sam@example.com")
    assert client.get(link).status_code == 302
    again = client.get(link)
    assert again.status_code == 302
    assert "Your email address was confirmed already." in page_text(client.get("/auth/account"))


def test_resend_sends_a_fresh_link_and_is_rate_limited(app, client, inbox):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    for _ in range(2):
        resent = post_form(client, "/auth/confirm/resend", {}, token_from="/auth/account")
        assert resent.status_code == 303
    assert len(inbox.bodies_to("sam@example.com")) == 3
    assert post_form(client, "/auth/confirm/resend", {}, token_from="/auth/account").status_code == 429
    assert client.get(link_in(inbox, "sam@example.com", newest=False)).status_code == 302  # any unused one works


def test_an_expired_or_altered_link_is_a_clear_400(app, client, inbox):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    link = link_in(inbox, "sam@example.com")
    # A character inside the signature: the last one may only carry base64 padding bits.
    altered = client.get(link[:-5] + ("A" if link[-5] != "A" else "B") + link[-4:])
    assert altered.status_code == 400 and "This link is not valid." in page_text(altered)

    a_day_ago = EmailLinks(app.config["SECRET_KEY"], clock=lambda: utcnow() - timedelta(hours=24, seconds=1))
    with app.app_context():
        stale = a_day_ago.token(wiring.accounts().users.by_mailbox("sam@example.com"), "sam@example.com")
    expired = client.get(f"/auth/confirm/{stale}")
    assert expired.status_code == 400 and "This link has expired." in page_text(expired)
    assert "Your account</a> can send you a new link" in page_text(expired)


# -- changing the address -----------------------------------------------------------------------
def change_email(client, new_email, password=DEFAULT_PASSWORD):
    return post_form(client, "/auth/account/email", {"email": new_email, "password": password},
                     token_from="/auth/account")


def test_a_new_address_needs_the_password_and_changes_only_by_its_link(app, client, inbox):
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    first_link = link_in(inbox, "sam@example.com")

    wrong = change_email(client, "sam@example.org", password="not my password")
    assert wrong.status_code == 400 and "That is not your current password." in page_text(wrong)

    assert change_email(client, "Sam@Example.org").status_code == 303
    account = page_text(client.get("/auth/account"))
    assert "We have sent a link to sam@example.org" in account and "Changing to" in account
    [note] = [b for b in inbox.bodies_to("sam@example.com") if "being changed" in b or "asked to change" in b]
    assert "sam@example.org" in note and "/auth/confirm/" not in note  # the old address gets no link
    stale = client.get(first_link)  # links sent before the change stop working
    assert stale.status_code == 400 and "This link has been used already." in page_text(stale)

    logout(client)
    assert login(client, "sam@example.com").status_code == 302  # still the address until the link
    assert client.get(link_in(inbox, "sam@example.org")).status_code == 302
    assert "Your email address is now sam@example.org." in page_text(client.get("/auth/account"))
    logout(client)
    assert login(client, "sam@example.com").status_code == 400
    assert login(client, "sam@example.org").status_code == 302
    assert sign(client, make_open(app, make_user(app, "owner@example.com"))).status_code == 303  # confirmed


def test_a_new_address_taken_by_another_mailbox_is_refused(app, client, inbox):
    make_user(app, "annexample@gmail.com")
    register(client, "sam@example.com", "Sam Signer", confirm=False)
    taken = change_email(client, "Ann.Example+petitions@googlemail.com")
    assert taken.status_code == 400
    assert "An account with this email already exists. Try logging in." in page_text(taken)


# -- one mailbox, one account; no throwaway mailboxes --------------------------------------------
@pytest.mark.parametrize("variant", [
    "Ann.Example@gmail.com", "annexample+petitions@gmail.com", "a.n.n.example@googlemail.com", " ANNEXAMPLE@GMAIL.COM ",
])
def test_one_mailbox_holds_one_account_however_the_address_is_written(app, client, inbox, variant):
    register(client, "annexample@gmail.com", "Ann", confirm=False)
    logout(client)
    refused = post_form(client, "/auth/register", {"email": variant, "display_name": "Ann again",
                                                   "password": DEFAULT_PASSWORD})
    assert refused.status_code == 400
    assert "An account with this email already exists. Try logging in." in page_text(refused)
    assert login(client, variant).status_code == 302  # and every spelling logs in to the one account


def test_plus_tags_are_one_mailbox_at_any_provider_but_dots_only_where_ignored(app, client, inbox):
    register(client, "sam.signer@example.com", "Sam", confirm=False)
    logout(client)
    plus = post_form(client, "/auth/register", {"email": "sam.signer+x@example.com", "display_name": "Sam",
                                                "password": DEFAULT_PASSWORD})
    assert plus.status_code == 400
    register(client, "samsigner@example.com", "Another Sam", confirm=False)  # dots matter outside Gmail


@pytest.mark.parametrize("address", ["someone@mailinator.com", "someone@10minutemail.com", "x@sub.mailinator.com"])
def test_throwaway_mail_domains_are_refused_with_a_message(app, client, inbox, address):
    refused = post_form(client, "/auth/register", {"email": address, "display_name": "Someone",
                                                   "password": DEFAULT_PASSWORD})
    assert refused.status_code == 400
    assert "Addresses at this domain are throwaway mailboxes." in page_text(refused)
    assert inbox.messages == []


# -- the mail server down -----------------------------------------------------------------------
def test_an_unreachable_mail_server_keeps_the_account_and_resend_retries(app, client):
    refused = register(client, "sam@example.com", "Sam Signer", confirm=False)  # nothing listens yet
    assert refused.headers["Location"] == "/"
    home = page_text(client.get("/"))
    assert "We could not send the email just now." in home and "Sign out (Sam Signer)" in home
    with smtp_server(SMTP_PORT) as inbox:
        assert post_form(client, "/auth/confirm/resend", {}, token_from="/auth/account").status_code == 303
        assert client.get(link_in(inbox, "sam@example.com")).status_code == 302
    assert "not confirmed yet" not in page_text(client.get("/auth/account"))
