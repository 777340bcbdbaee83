"""Anonymous browsing, the petition page and signing, through the app."""
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, select

from app.web import wiring
from app.web.extensions import db
from app.repositories import redis_keys as keys
from tests.helpers import create_draft, csrf_token, launch, login, post_form, sign
from tests.integration.support import close_now, make_draft, make_open, make_user, transient_document

CARD_RE = re.compile(r'<h2><a href="/petitions/(\d+)">')
COUNT_RE = re.compile(r'<p class="count">\s*<strong id="signature-count"[^>]*>([\d,]+)</strong>')


def listed(response):
    assert response.status_code == 200
    return [int(i) for i in CARD_RE.findall(response.get_data(as_text=True))]


def shown_count(client, petition_id):
    match = COUNT_RE.search(client.get(f"/petitions/{petition_id}").get_data(as_text=True))
    return int(match.group(1).replace(",", ""))


def add_signers(app, petition_id, users, at=None):
    with app.app_context():
        store = wiring.open_store()
        for user in users:
            store.sign(petition_id, user, (at or datetime.now(timezone.utc)).timestamp())


def live_count(app, petition_id):
    with app.app_context():
        return wiring.open_store().count(petition_id)


@pytest.fixture
def owner(app):
    return make_user(app, "owner@example.com", "Olive Owner")


@pytest.fixture
def sql_statements(app):
    """Counts SQL statements per bind while a test runs ("petitions" and "users")."""
    counts = {"petitions": 0, "users": 0}
    listeners = []
    with app.app_context():
        for bind, engine in db.engines.items():
            name = bind or "petitions"

            def count(*_, name=name):
                counts[name] += 1

            event.listen(engine, "before_cursor_execute", count)
            listeners.append((engine, count))
    yield counts
    for engine, count in listeners:
        event.remove(engine, "before_cursor_execute", count)


# -- index -----------------------------------------------------------------------------------
@pytest.fixture
def three(app, owner):
    now = datetime.now(timezone.utc)
    ids = {
        "old_long": make_open(app, owner, "Protect the village green", days=90, launched_at=now - timedelta(days=3)),
        "mid_short": make_open(app, owner, "Fund the village library", days=10, launched_at=now - timedelta(days=2)),
        "new_mid": make_open(app, owner, "Repair the library roof now", days=30, launched_at=now - timedelta(days=1)),
    }
    add_signers(app, ids["mid_short"], [1, 2, 3])
    add_signers(app, ids["old_long"], [1])
    return ids


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        (None, ["mid_short", "old_long", "new_mid"]),
        ("signatures", ["mid_short", "old_long", "new_mid"]),
        ("newest", ["new_mid", "mid_short", "old_long"]),
        ("closing", ["mid_short", "new_mid", "old_long"]),
    ],
)
def test_index_sort_orders(client, three, sort, order):
    assert listed(client.get("/", query_string={"sort": sort} if sort else {})) == [three[k] for k in order]


def test_index_search_over_titles(client, three):
    assert listed(client.get("/?q=LIBRARY&sort=newest")) == [three["new_mid"], three["mid_short"]]
    response = client.get("/?q=village+green")
    assert listed(response) == [three["old_long"]]
    assert "1 petition matching" in response.get_data(as_text=True)
    assert "No petitions found" in client.get("/?q=motorway").get_data(as_text=True)


def test_index_shows_counts_and_excludes_drafts_and_closed(app, client, three, owner):
    make_draft(app, owner, "A draft that must not be listed")
    close_now(app, three["old_long"], datetime.now(timezone.utc), 1)
    page = client.get("/").get_data(as_text=True)
    assert "A draft that must not be listed" not in page
    assert listed(client.get("/")) == [three["mid_short"], three["new_mid"]]
    assert "<strong>3</strong> signatures" in page
    assert listed(client.get("/?state=closed")) == [three["old_long"]]


def test_index_pages_hold_50(app, client, redis_client):
    store = app.extensions["open_store"]  # documents straight into Redis: SQL has none of them
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for n in range(1, 53):
        store.put_open(transient_document(n, f"Petition number {n:03d}", start + timedelta(minutes=n)))
    first, second, third = (client.get(f"/?sort=newest&page={p}") for p in (1, 2, 3))
    assert listed(first) == list(range(52, 2, -1))
    assert listed(second) == [2, 1]
    assert listed(third) == []
    assert 'rel="next" href="/?sort=newest&amp;page=2"' in first.get_data(as_text=True)
    assert "Page 2 of 2" in second.get_data(as_text=True)


@pytest.mark.parametrize("query", ["sort=best", "page=0", "page=x", "page=99999999999999999999", "state=draft", "q=" + "x" * 101])
def test_index_bad_parameters_are_a_400_page(client, query):
    response = client.get("/?" + query)
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_index_never_reads_sql(app, client, three, sql_statements):
    for path in ("/", "/?sort=newest", "/?q=library", f"/api/petitions/{three['new_mid']}/count", "/api/petitions"):
        assert client.get(path).status_code == 200
    assert sql_statements == {"petitions": 0, "users": 0}


def test_an_open_petitions_page_reads_sql_once_for_its_chart_then_not_for_ten_seconds(app, client, three,
                                                                                      sql_statements):
    for _ in range(3):
        assert "Signatures over time" in client.get(f"/petitions/{three['new_mid']}").get_data(as_text=True)
    assert sql_statements == {"petitions": 1, "users": 0}  # the hours, once; the rest is Redis


# -- petition page ---------------------------------------------------------------------------
def test_title_and_body_are_escaped(app, client, owner):
    login(client, "owner@example.com")
    title, body = "<script>alert('t')</script> petition", "<script>alert('b')</script>\n<b>bold</b>"
    petition_id = create_draft(client, title=title, body=body)
    for _ in range(2):  # as a draft (SQL) and once open (Redis document)
        page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
        assert "<script>alert" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; petition" in page
        assert "&lt;script&gt;alert(&#39;b&#39;)&lt;/script&gt;" in page
        launch(client, petition_id)


def test_open_petition_page_shows_owner_dates_count_and_progress(app, client, owner):
    launched_at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    petition_id = make_open(app, owner, "Protect the village green", days=180, launched_at=launched_at)
    add_signers(app, petition_id, range(150), at=launched_at + timedelta(days=1))
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Started by Olive Owner" in page
    assert "<dt>Launched</dt><dd>1 March 2026</dd>" in page
    assert "<dt>Closes</dt><dd>28 August 2026, 09:30 UTC</dd>" in page
    assert COUNT_RE.search(page).group(1) == "150"
    assert re.search(r'<progress id="progress" class="progress" max="1000" value="150"', page)
    assert "Next milestone: 1,000 signatures" in page
    assert f'data-count-url="/api/petitions/{petition_id}/count"' in page


def test_anonymous_visitor_is_invited_to_log_in_to_sign(app, client, owner):
    petition_id = make_open(app, owner)
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert f'href="/auth/login?next=/petitions/{petition_id}">Log in to sign</a>' in page
    assert "Sign this petition" not in page


def test_signed_in_user_sees_the_button_then_you_signed_this(app, client, owner):
    petition_id = make_open(app, owner)
    make_user(app, "sam@example.com")
    login(client, "sam@example.com")
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "Sign this petition" in page and "You signed this petition." not in page
    sign(client, petition_id)
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "You signed this petition." in page and "Sign this petition</button>" not in page


def test_closed_petition_shows_final_count_and_that_it_is_closed(app, client, owner):
    launched_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    petition_id = make_open(app, owner, days=30, launched_at=launched_at)
    add_signers(app, petition_id, [1, 2], at=launched_at)
    close_now(app, petition_id, datetime(2026, 1, 31, tzinfo=timezone.utc), 1234)
    make_user(app, "sam@example.com")
    login(client, "sam@example.com")
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert COUNT_RE.search(page).group(1) == "1,234"
    assert "(final count)" in page
    assert '<p class="badge badge-closed">Closed</p>' in page
    assert "This petition is closed." in page and "no longer accepts signatures" in page
    assert "Sign this petition" not in page and 'data-count-url=""' in page
    assert "<dt>Closed</dt><dd>31 January 2026</dd>" in page
    assert "Next milestone" not in page and "<progress" not in page  # nothing left to reach


@pytest.mark.parametrize("path", ["/petitions/999", "/petitions/0", "/petitions/abc", "/petitions/99999999999", "/petitions/2147483648"])
def test_unknown_or_malformed_ids_are_a_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


# -- signing ---------------------------------------------------------------------------------
@pytest.fixture
def signer(app, client):
    user = make_user(app, "sam@example.com", "Sam Signer")
    login(client, "sam@example.com")
    return user


def sign_page(client, petition_id):
    """Signs and returns (status, text of the page the user lands on or the error page)."""
    response = sign(client, petition_id)
    if response.status_code in (302, 303):
        return response.status_code, client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code, response.get_data(as_text=True)


def test_anonymous_sign_goes_to_login_and_comes_back(app, client, owner):
    petition_id = make_open(app, owner)
    make_user(app, "sam@example.com")
    token = csrf_token(client)
    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == [f"/petitions/{petition_id}"]
    back = post_form(client, response.headers["Location"], {"email": "sam@example.com", "password": "correct horse battery"})
    assert back.headers["Location"] == f"/petitions/{petition_id}"
    assert live_count(app, petition_id) == 0


def test_signing_records_one_signature_and_says_thank_you(app, client, owner, signer, redis_client):
    petition_id = make_open(app, owner)
    status, page = sign_page(client, petition_id)
    assert status == 303
    assert '<div class="flash flash-success" role="status">Thank you for signing. This petition now has 1 signature.</div>' in page
    assert COUNT_RE.search(page).group(1) == "1"
    assert redis_client.smembers(keys.signers(petition_id)) == {str(signer["id"]).encode()}
    assert redis_client.xlen(keys.OUTBOX) == 1


def test_the_thank_you_is_only_for_someone_who_signed(app, client, owner, signer):
    petition_id = make_open(app, owner)
    thanked = f"/petitions/{petition_id}?signed=new"
    assert "Thank you for signing" not in client.get(thanked).get_data(as_text=True)
    assert "Thank you for signing" not in app.test_client().get(thanked).get_data(as_text=True)
    answer = sign(client, petition_id)
    assert answer.headers["Location"] == thanked
    assert "Set-Cookie" not in answer.headers  # nothing to carry: the page reads the query
    assert "Thank you for signing" in client.get(thanked).get_data(as_text=True)
    shown = client.get(f"/petitions/{petition_id}?signed=%3Cb%3E").get_data(as_text=True)
    assert "Thank you" not in shown and "already signed" not in shown and "<b>" not in shown


def test_signing_twice_says_already_signed_and_changes_nothing(app, client, owner, signer, redis_client):
    petition_id = make_open(app, owner)
    sign(client, petition_id)
    status, page = sign_page(client, petition_id)
    assert status == 303
    assert "You have already signed this petition." in page
    assert COUNT_RE.search(page).group(1) == "1"
    assert redis_client.xlen(keys.OUTBOX) == 1


def test_count_is_the_number_of_distinct_signers(app, client, owner):
    petition_id = make_open(app, owner)
    for n in range(3):
        make_user(app, f"user{n}@example.com")
        other = app.test_client()
        login(other, f"user{n}@example.com")
        sign(other, petition_id)
        sign(other, petition_id)
    assert shown_count(client, petition_id) == 3
    assert client.get(f"/api/petitions/{petition_id}/count").get_json()["signature_count"] == 3


def test_owner_draft_cannot_be_signed(app, client, signer):
    petition_id = make_draft(app, signer)  # the signer's own draft, so they can see it
    status, page = sign_page(client, petition_id)
    assert status == 409
    assert "has not been launched yet" in page
    assert live_count(app, petition_id) is None


def test_signing_someone_elses_draft_does_not_reveal_it(app, client, owner, signer):
    petition_id = make_draft(app, owner)
    status, page = sign_page(client, petition_id)
    assert status == 404
    assert "launched" not in page


def test_closed_petition_refuses_signatures(app, client, owner, signer):
    petition_id = make_open(app, owner)
    close_now(app, petition_id, datetime.now(timezone.utc), 0)
    status, page = sign_page(client, petition_id)
    assert status == 409
    assert "This petition is closed and no longer accepts signatures." in page


def test_past_deadline_refuses_before_the_close_job_has_run(app, client, owner, signer, redis_client):
    petition_id = make_open(app, owner, days=1, launched_at=datetime.now(timezone.utc) - timedelta(days=2))
    assert redis_client.zscore(keys.OPEN_BY_CLOSING, petition_id) is not None  # still "open" in Redis
    status, page = sign_page(client, petition_id)
    assert status == 409
    assert "reached its deadline" in page
    assert redis_client.scard(keys.signers(petition_id)) == 0
    assert redis_client.xlen(keys.OUTBOX) == 0


def test_past_deadline_refuses_while_the_close_is_half_done(app, client, owner, signer):
    """Taken out of Redis but not yet Closed in SQL."""
    petition_id = make_open(app, owner, days=1, launched_at=datetime.now(timezone.utc) - timedelta(days=2))
    with app.app_context():
        wiring.open_store().remove_open(petition_id)
    status, page = sign_page(client, petition_id)
    assert status == 409
    assert "reached its deadline" in page


def test_signing_an_unknown_petition_is_404(app, client, signer):
    assert sign_page(client, 4242)[0] == 404


def test_sign_needs_post_and_a_csrf_token(app, client, owner, signer):
    petition_id = make_open(app, owner)
    assert client.get(f"/petitions/{petition_id}/sign").status_code == 405
    assert client.post(f"/petitions/{petition_id}/sign").status_code == 400
    assert live_count(app, petition_id) == 0


def test_signing_touches_no_petitions_sql(app, client, owner, signer, sql_statements):
    petition_id = make_open(app, owner)
    token = csrf_token(client, "/petitions/new")
    sql_statements.update(petitions=0, users=0)
    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token})
    assert response.status_code == 303
    assert sql_statements["petitions"] == 0


def test_signatures_reach_sql_after_the_persister_runs(app, client, owner, signer):
    petition_id = make_open(app, owner)
    sign(client, petition_id)
    with app.app_context():
        assert wiring.persister(consumer="t").drain() == 1
        from app.repositories.models import Signature

        rows = db.session.execute(select(Signature.petition_id, Signature.user_id)).all()
    assert rows == [(petition_id, signer["id"])]
