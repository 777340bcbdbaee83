"""Owner-side pages: new, edit, delete, launch and "My petitions", owner-only and drafts-only."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Petition
from tests.helpers import create_draft, csrf_token, launch, login, post_form
from tests.integration.support import close_now, make_draft, make_open, make_user, petition_row

ERROR_RE = re.compile(r'class="error-message"[^>]*>([^<]*)<')


@pytest.fixture
def owner(app, client):
    user = make_user(app, "owner@example.com", "Olive Owner")
    login(client, "owner@example.com")
    return user


@pytest.fixture
def stranger(app):
    """Another signed-in user with their own client."""
    make_user(app, "stranger@example.com", "Stan Stranger")
    other = app.test_client()
    login(other, "stranger@example.com")
    return other


def petition_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Petition))


def form(title="Save the local library from closure", body="Libraries matter.", days="30"):
    return {"title": title, "body": body, "duration_days": days}


# -- new -------------------------------------------------------------------------------------
def test_new_needs_a_signed_in_user(app, client):
    response = client.get("/petitions/new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/petitions/new"


def test_new_form_defaults_to_30_days(app, client, owner):
    page = client.get("/petitions/new").get_data(as_text=True)
    assert re.search(r'name="duration_days"[^>]*value="30"', page)


def test_new_creates_a_draft_owned_by_the_user(app, client, owner):
    petition_id = create_draft(client, title="  Save   the local library  ", body="Line one\r\nLine two", days=45)
    row = petition_row(app, petition_id)
    assert row["state"] == "draft"
    assert (row["owner_id"], row["owner_name"]) == (owner["id"], "Olive Owner")
    assert (row["title"], row["body"], row["duration_days"]) == ("Save the local library", "Line one\nLine two", 45)
    assert row["launched_at"] is None and row["closes_at"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (form(title="Too short"), "Field must be between 10 and 120 characters long."),
        (form(title="t" * 121), "Field must be between 10 and 120 characters long."),
        (form(title="a" + " " * 12 + "b"), "Title must be 10 to 120 characters."),
        (form(body=""), "This field is required."),
        (form(body="   "), "This field is required."),
        (form(body="b" * 5001), "Field cannot be longer than 5000 characters."),
        (form(days="0"), "Enter a number of days from 1 to 180."),
        (form(days="181"), "Enter a number of days from 1 to 180."),
        (form(days="ten"), "Enter a number of days from 1 to 180."),
        (form(days=""), "Enter a number of days from 1 to 180."),
    ],
)
def test_bad_fields_rerender_with_a_message_and_save_nothing(app, client, owner, fields, message):
    response = post_form(client, "/petitions/new", fields)
    assert response.status_code == 400
    assert message in " ".join(ERROR_RE.findall(response.get_data(as_text=True)))
    assert petition_count(app) == 0


def test_bounds_themselves_are_accepted(app, client, owner):
    create_draft(client, title="t" * 10, body="b", days=1)
    create_draft(client, title="t" * 120, body="b" * 5000, days=180)
    assert petition_count(app) == 2


# -- owner only ------------------------------------------------------------------------------
def test_draft_is_visible_to_its_owner_with_owner_actions(app, client, owner):
    petition_id = create_draft(client)
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Draft: only you can see this" in page
    assert f'action="/petitions/{petition_id}/launch"' in page


def test_another_users_draft_is_404_everywhere(app, client, owner, stranger):
    petition_id = create_draft(client)
    token = csrf_token(stranger, "/petitions/new")
    assert stranger.get(f"/petitions/{petition_id}").status_code == 404
    assert stranger.get(f"/petitions/{petition_id}/edit").status_code == 404
    attempts = [
        stranger.post(f"/petitions/{petition_id}/edit", data={"csrf_token": token, **form(title="Hijacked title here")}),
        stranger.post(f"/petitions/{petition_id}/delete", data={"csrf_token": token}),
        stranger.post(f"/petitions/{petition_id}/launch", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in attempts] == [404, 404, 404]
    row = petition_row(app, petition_id)
    assert (row["state"], row["title"]) == ("draft", "Save the local library from closure")
    assert stranger.get("/api/petitions/%d" % petition_id).status_code == 404


def test_anonymous_visitors_get_404_for_a_draft(app, client, owner):
    petition_id = create_draft(client)
    anonymous = app.test_client()
    assert anonymous.get(f"/petitions/{petition_id}").status_code == 404
    assert anonymous.get(f"/api/petitions/{petition_id}/count").status_code == 404


def test_another_users_open_petition_cannot_be_managed(app, client, owner, stranger):
    petition_id = create_draft(client)
    launch(client, petition_id)
    token = csrf_token(stranger, "/petitions/new")
    assert stranger.get(f"/petitions/{petition_id}/edit").status_code == 404
    assert stranger.post(f"/petitions/{petition_id}/delete", data={"csrf_token": token}).status_code == 404


# -- edit ------------------------------------------------------------------------------------
def test_edit_form_is_prefilled_and_saves_changes(app, client, owner):
    petition_id = create_draft(client)
    page = client.get(f"/petitions/{petition_id}/edit").get_data(as_text=True)
    assert 'value="Save the local library from closure"' in page
    response = post_form(client, f"/petitions/{petition_id}/edit", form(title="Keep the library open late", days="60"))
    assert response.status_code == 302 and response.headers["Location"] == f"/petitions/{petition_id}"
    row = petition_row(app, petition_id)
    assert (row["title"], row["duration_days"]) == ("Keep the library open late", 60)


def test_edit_with_bad_fields_changes_nothing(app, client, owner):
    petition_id = create_draft(client)
    response = post_form(client, f"/petitions/{petition_id}/edit", form(title="short"))
    assert response.status_code == 400
    assert petition_row(app, petition_id)["title"] == "Save the local library from closure"


def test_edit_and_delete_after_launch_are_409_and_change_nothing(app, client, owner, redis_client):
    petition_id = create_draft(client)
    token = csrf_token(client, f"/petitions/{petition_id}")
    launch(client, petition_id)
    before = petition_row(app, petition_id)
    doc_before = redis_client.get(keys.petition_doc(petition_id))

    view = client.get(f"/petitions/{petition_id}/edit")
    edit = client.post(f"/petitions/{petition_id}/edit", data={"csrf_token": token, **form(title="A new title for it")})
    delete = client.post(f"/petitions/{petition_id}/delete", data={"csrf_token": token})
    assert [view.status_code, edit.status_code, delete.status_code] == [409, 409, 409]
    assert "Only drafts can be edited" in edit.get_data(as_text=True)
    assert "Only drafts can be deleted" in delete.get_data(as_text=True)
    assert petition_row(app, petition_id) == before
    assert redis_client.get(keys.petition_doc(petition_id)) == doc_before


def test_closed_petition_cannot_be_edited_or_deleted(app, client, owner):
    petition_id = make_open(app, owner)
    close_now(app, petition_id, datetime.now(timezone.utc), 0)
    token = csrf_token(client, "/petitions/new")
    assert client.get(f"/petitions/{petition_id}/edit").status_code == 409
    assert client.post(f"/petitions/{petition_id}/delete", data={"csrf_token": token}).status_code == 409
    assert petition_row(app, petition_id)["state"] == "closed"


# -- delete ----------------------------------------------------------------------------------
def test_owner_deletes_a_draft(app, client, owner):
    petition_id = create_draft(client)
    response = post_form(client, f"/petitions/{petition_id}/delete", {}, token_from=f"/petitions/{petition_id}")
    assert response.status_code == 302 and response.headers["Location"] == "/my/petitions"
    assert petition_row(app, petition_id) is None
    assert client.get(f"/petitions/{petition_id}").status_code == 404


def test_delete_needs_post_and_csrf(app, client, owner):
    petition_id = create_draft(client)
    assert client.get(f"/petitions/{petition_id}/delete").status_code == 405
    assert client.post(f"/petitions/{petition_id}/delete").status_code == 400
    assert petition_row(app, petition_id) is not None


# -- launch ----------------------------------------------------------------------------------
def test_launch_opens_the_petition_in_sql_and_redis(app, client, owner, redis_client):
    petition_id = create_draft(client, days=10)
    before = datetime.now(timezone.utc)
    response = launch(client, petition_id)
    assert response.status_code == 302 and response.headers["Location"] == f"/petitions/{petition_id}"
    row = petition_row(app, petition_id)
    assert row["state"] == "open"
    assert before - timedelta(seconds=5) <= row["launched_at"] <= datetime.now(timezone.utc)
    assert row["closes_at"] - row["launched_at"] == timedelta(days=10)
    assert redis_client.zscore(keys.OPEN_BY_CLOSING, petition_id) == row["closes_at"].timestamp()
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, petition_id) == 0
    assert client.get("/api/petitions").get_json()["meta"]["total"] == 1


def test_launch_twice_is_refused_and_keeps_the_first_launch(app, client, owner):
    petition_id = create_draft(client)
    token = csrf_token(client, f"/petitions/{petition_id}")
    launch(client, petition_id)
    first = petition_row(app, petition_id)
    again = client.post(f"/petitions/{petition_id}/launch", data={"csrf_token": token})
    assert again.status_code == 409
    assert "already been launched" in again.get_data(as_text=True)
    assert petition_row(app, petition_id) == first


def test_launch_of_a_missing_petition_is_404(app, client, owner):
    assert post_form(client, "/petitions/999/launch", {}, token_from="/petitions/new").status_code == 404


def test_launch_runs_the_on_launch_hook_once(app, client, owner):
    launched = []
    app.extensions["on_launch"] = lambda petition: launched.append(petition.id)
    petition_id = create_draft(client)
    launch(client, petition_id)
    launch(client, petition_id)
    assert launched == [petition_id]


# -- my petitions ----------------------------------------------------------------------------
def test_my_petitions_lists_only_mine_in_every_state_with_counts(app, client, owner, stranger):
    draft = make_draft(app, owner, "My draft petition title")
    opened = make_open(app, owner, "My open petition title")
    closed = make_open(app, owner, "My closed petition title")
    close_now(app, closed, datetime.now(timezone.utc), 7)
    with app.app_context():
        from app.web import wiring

        for user in (11, 12, 13):
            wiring.open_store().sign(opened, user, datetime.now(timezone.utc).timestamp())
    stranger_page = stranger.get("/my/petitions").get_data(as_text=True)
    assert "My draft petition title" not in stranger_page

    page = client.get("/my/petitions").get_data(as_text=True)
    rows = re.findall(r'<tr>\s*<td><a href="/petitions/(\d+)">[^<]*</a></td>\s*<td><span[^>]*>(\w+)</span></td>\s*<td>([\d,]+)</td>', page)
    assert sorted(rows) == sorted([(str(draft), "Draft", "0"), (str(opened), "Open", "3"), (str(closed), "Closed", "7")])


def test_my_petitions_needs_login(app, client):
    response = client.get("/my/petitions")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]

