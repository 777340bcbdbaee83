"""Security test 1: every state-changing route refuses a missing or wrong CSRF token.

Routes are found by walking app.url_map, so a route added later is covered without editing this
test; a route whose URL needs a value this test cannot supply fails loudly instead of being
skipped."""
from sqlalchemy import func, select

from app.web.extensions import db
from app.repositories.models import MailOptOut, Petition, Signature, User
from app.web import wiring
from tests.helpers import create_draft, csrf_token, register

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Valid values for every field any form has, so only the CSRF token can be what stops a request.
FORM = {
    "email": "mallory@example.com", "display_name": "Mallory", "password": "correct horse battery",
    "title": "A petition nobody asked for", "body": "Forged.", "duration_days": "30",
}


def _state(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.execute(select(Petition.id, Petition.title, Petition.state)).all(),
            db.session.scalar(select(func.count()).select_from(Signature)),
            db.session.scalar(select(func.count()).select_from(MailOptOut)),
        )


def _url_values(app, rule, draft_id):
    values = {}
    for argument in rule.arguments:
        assert argument in ("petition_id", "token"), f"{rule.rule}: teach this test a value for <{argument}>"
        values[argument] = draft_id
    if "token" in values:  # a genuine unsubscribe link, so only the CSRF check can refuse it
        with app.app_context():
            values["token"] = wiring.services().unsubscribe_links().url(draft_id, 1).rsplit("/", 1)[1]
    return values


def test_every_state_changing_route_refuses_missing_and_wrong_tokens(app, client):
    register(client, "owner@example.com", "Olive Owner")
    draft_id = create_draft(client)
    foreign_token = csrf_token(app.test_client())  # valid, but for someone else's session
    before = _state(app)

    rules = [rule for rule in app.url_map.iter_rules() if rule.methods & STATE_CHANGING]
    endpoints = {rule.endpoint for rule in rules}
    assert {"auth.login", "auth.register", "auth.logout", "petitions.new", "petitions.edit",
            "petitions.delete", "petitions.launch", "public.sign"} <= endpoints

    checked = 0
    for rule in rules:
        url = rule.build(_url_values(app, rule, draft_id))[1]
        for method in sorted(rule.methods & STATE_CHANGING):
            for token in (None, "", "not-a-token", foreign_token):
                data = dict(FORM) if token is None else dict(FORM, csrf_token=token)
                response = client.open(url, method=method, data=data)
                assert response.status_code == 400, (method, url, token, response.status_code)
                assert "was not sent from this site" in response.get_data(as_text=True)
                checked += 1
    assert checked == 4 * sum(len(rule.methods & STATE_CHANGING) for rule in rules)

    assert _state(app) == before  # nothing was created, changed, launched, deleted or signed
    assert client.get("/my/petitions").status_code == 200  # and the owner is still signed in


def test_json_requests_need_the_token_too(app, client):
    register(client, "owner@example.com", "Olive Owner")
    draft_id = create_draft(client)
    response = client.post(f"/petitions/{draft_id}/launch", json={}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"
