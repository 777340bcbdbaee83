"""The render cache's hit path in front of Flask: cookieless GETs of a fresh front page are
answered without Flask, with the same body and headers; anything else reaches Flask."""
import pytest

from tests.helpers import create_draft, launch, register
from tests.integration.support import CacheClock


@pytest.fixture
def flask_calls(app):
    calls = []
    app.before_request(lambda: calls.append(1))
    return calls, CacheClock(app)


def test_a_fresh_front_page_is_served_again_without_flask(app, flask_calls):
    calls, _ = flask_calls
    first = app.test_client().get("/")
    second = app.test_client().get("/")
    assert len(calls) == 1
    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert dict(second.headers) == dict(first.headers)
    assert "Content-Security-Policy" in second.headers


def test_after_the_fresh_window_flask_renders_the_new_state(app, client, flask_calls):
    calls, clock = flask_calls
    register(client, "owner@example.com", "Olive Owner")
    launch(client, create_draft(client, title="Plant more trees in every park"))
    anonymous = app.test_client()
    assert "Plant more trees" in anonymous.get("/").get_data(as_text=True)
    launch(client, create_draft(client, title="Open the swimming pool on Sundays"))
    seen = len(calls)
    assert "Open the swimming pool" not in anonymous.get("/").get_data(as_text=True)  # still fresh
    assert len(calls) == seen
    clock.pass_fresh_window()
    assert "Open the swimming pool" in anonymous.get("/").get_data(as_text=True)


def test_requests_with_a_cookie_or_other_queries_go_to_flask(app, client, flask_calls):
    calls, _ = flask_calls
    app.test_client().get("/")
    register(client)  # the client now carries a session cookie
    before = len(calls)
    page = client.get("/")
    assert len(calls) == before + 1
    assert "Sign out (Ann Example)" in page.get_data(as_text=True)
    assert app.test_client().get("/?sort=bogus").status_code == 400
    app.test_client().get("/?sort=newest")
    assert len(calls) == before + 3


def test_headers_are_kept_per_scheme_and_host(app, flask_calls):
    calls, _ = flask_calls
    ours = app.test_client().get("/", base_url="https://petitions.example")
    other = app.test_client().get("/", base_url="http://other.example")
    assert len(calls) == 2
    assert app.test_client().get("/", base_url="https://petitions.example").headers == ours.headers
    assert app.test_client().get("/", base_url="http://other.example").headers == other.headers
    assert len(calls) == 2  # both hosts' answers repeated within the same fresh window
