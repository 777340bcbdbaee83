"""The count API's fast path: a cookieless GET of a petition's count is answered from the
per-process cache for PAGE_CACHE_SECONDS with exactly what Flask sent (or the 304 Flask would
send); everything else reaches Flask. Signatures still show on the petition page at once."""
from datetime import datetime, timedelta, timezone

import pytest

from app.converters import MAX_ID
from tests.helpers import create_draft, launch, register, sign
from tests.integration.fast_path_fixtures import flask_calls, opened, owner  # noqa: F401 (fixtures)
from tests.integration.support import (
    CacheClock,
    close_now,
    flask_alone,
    make_draft,
    make_open,
    without_date,
)

LAUNCHED = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def test_a_fresh_count_is_served_again_without_flask_with_identical_headers(app, opened, flask_calls):
    path = f"/api/petitions/{opened}/count"
    first = app.test_client().get(path)
    second = app.test_client().get(path)
    assert len(flask_calls) == 1
    assert (second.status, second.get_data()) == (first.status, first.get_data())
    assert second.headers.to_wsgi_list() == first.headers.to_wsgi_list()
    for name in ("ETag", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert second.headers[name] == first.headers[name]
    own = flask_alone(app).get(path)
    assert (own.status, own.get_data(), without_date(own.headers)) == (
        second.status, second.get_data(), without_date(second.headers)
    )
    assert second.get_json() == {"id": opened, "signature_count": 0}


def test_if_none_match_gets_flasks_304_from_the_fast_path(app, opened, flask_calls):
    path = f"/api/petitions/{opened}/count"
    etag = app.test_client().get(path).headers["ETag"]
    fast = app.test_client().get(path, headers={"If-None-Match": etag})
    assert len(flask_calls) == 1
    own = flask_alone(app).get(path, headers={"If-None-Match": etag})
    assert fast.status_code == own.status_code == 304
    assert fast.get_data() == own.get_data() == b""
    assert without_date(fast.headers) == without_date(own.headers)
    assert "Content-Type" not in fast.headers
    other = app.test_client().get(path, headers={"If-None-Match": '"another", W/"one"'})
    assert other.status_code == 200 and other.get_json()["signature_count"] == 0
    assert app.test_client().get(path, headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304  # weak match


def test_a_revalidation_that_misses_the_cache_fills_it(app, opened, flask_calls):
    """Polling browsers mostly revalidate: their misses must still leave a full answer to repeat."""
    path = f"/api/petitions/{opened}/count"
    etag = flask_alone(app).get(path).headers["ETag"]
    before = len(flask_calls)
    assert app.test_client().get(path, headers={"If-None-Match": etag}).status_code == 304
    assert app.test_client().get(path, headers={"If-None-Match": etag}).status_code == 304
    plain = app.test_client().get(path)
    assert plain.status_code == 200 and plain.headers["ETag"] == etag
    assert len(flask_calls) == before + 1


def test_a_signature_shows_on_the_page_at_once_and_in_the_api_after_the_window(app, client, flask_calls):
    clock = CacheClock(app)
    register(client, "owner@example.com", "Olive Owner")
    petition_id = create_draft(client)
    launch(client, petition_id)
    anonymous = app.test_client()
    path = f"/api/petitions/{petition_id}/count"
    assert anonymous.get(path).get_json()["signature_count"] == 0
    signer = app.test_client()
    register(signer, "sam@example.com", "Sam Signer")
    assert sign(signer, petition_id).status_code == 303
    assert 'id="signature-count"' in (page := signer.get(f"/petitions/{petition_id}").get_data(as_text=True))
    assert ">1</strong>" in page  # the petition page reads Redis
    assert ">1</strong>" in anonymous.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert signer.get(path).get_json()["signature_count"] == 1  # with a cookie: Flask, no lag
    assert anonymous.get(path).get_json()["signature_count"] == 0  # cookieless: within the window
    clock.pass_fresh_window()
    assert anonymous.get(path).get_json()["signature_count"] == 1


@pytest.mark.parametrize(
    "method, suffix, headers",
    [
        ("GET", "", {"Cookie": "theme=dark"}),  # sent as is: the test client keeps no cookies
        ("GET", "?fresh=1", {}),
        ("GET", "", {"If-Match": '"other"'}),
        ("GET", "", {"If-Match": "*"}),
        ("GET", "", {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "3"}),
        ("HEAD", "", {}),
        ("POST", "", {}),
    ],
)
def test_anything_but_a_plain_cookieless_get_reaches_flask(app, opened, flask_calls, method, suffix, headers):
    path = f"/api/petitions/{opened}/count"
    app.test_client().get(path)
    before = len(flask_calls)
    data = b"a=1" if "Content-Length" in headers else None
    response = app.test_client(use_cookies=False).open(path + suffix, method=method, headers=headers, data=data)
    assert len(flask_calls) == before + 1
    own = flask_alone(app).open(path + suffix, method=method, headers=headers, data=data)
    assert (response.status, response.get_data(), without_date(response.headers)) == (
        own.status, own.get_data(), without_date(own.headers)
    )


def test_a_form_body_on_a_get_is_still_checked_by_the_input_guard(app, opened):
    path = f"/api/petitions/{opened}/count"
    app.test_client().get(path)
    response = app.test_client().get(path, data={"q": "a\x00b"})
    assert response.status_code == 400


def test_bad_unknown_and_draft_ids_get_flasks_404_every_time(app, owner, flask_calls):
    draft = make_draft(app, owner)
    for path in ("/api/petitions/0/count", "/api/petitions/007/count", f"/api/petitions/{MAX_ID + 1}/count",
                 "/api/petitions/424242/count", f"/api/petitions/{draft}/count", "/api/petitions/1/count/"):
        before = len(flask_calls)
        for _ in range(2):
            assert app.test_client().get(path).status_code == 404, path
        assert len(flask_calls) == before + 2, path


def test_a_closed_petitions_final_count_is_what_flask_answers(app, owner, flask_calls):
    petition_id = make_open(app, owner, launched_at=LAUNCHED)
    close_now(app, petition_id, LAUNCHED + timedelta(days=30), 321)
    path = f"/api/petitions/{petition_id}/count"
    first, second = app.test_client().get(path), app.test_client().get(path)
    assert len(flask_calls) == 1
    assert second.get_json() == {"id": petition_id, "signature_count": 321}
    assert second.headers.to_wsgi_list() == first.headers.to_wsgi_list()
