"""The list API's fast path: a cookieless GET of `/api/petitions` (per list query) is answered
from the per-process cache for PAGE_CACHE_SECONDS with exactly what Flask sent, or the 304 Flask
would send; bad queries, cookies and the rest reach Flask."""
import pytest

from app.blueprints.public.cache import MAX_ORIGINS
from app.blueprints.public.fast_path import PLAIN_LIST_KEYS
from tests.integration.fast_path_fixtures import flask_calls, opened, owner  # noqa: F401 (fixtures)
from tests.integration.support import CacheClock, flask_alone, make_open, without_date


def test_a_fresh_list_is_served_again_without_flask_with_identical_headers(app, opened, flask_calls):
    first = app.test_client().get("/api/petitions")
    second = app.test_client().get("/api/petitions")
    assert len(flask_calls) == 1
    assert (second.status, second.get_data()) == (first.status, first.get_data())
    assert second.headers.to_wsgi_list() == first.headers.to_wsgi_list()
    own = flask_alone(app).get("/api/petitions")
    assert (own.status, own.get_data(), without_date(own.headers)) == (
        second.status, second.get_data(), without_date(second.headers)
    )
    assert [item["id"] for item in second.get_json()["data"]] == [opened]


def test_if_none_match_gets_flasks_304_from_the_fast_path(app, opened, flask_calls):
    etag = app.test_client().get("/api/petitions").headers["ETag"]
    fast = app.test_client().get("/api/petitions", headers={"If-None-Match": etag})
    assert len(flask_calls) == 1
    own = flask_alone(app).get("/api/petitions", headers={"If-None-Match": etag})
    assert fast.status_code == own.status_code == 304
    assert fast.get_data() == b"" and without_date(fast.headers) == without_date(own.headers)


def test_each_query_is_kept_apart_and_a_new_petition_shows_after_the_window(app, owner, opened, flask_calls):
    clock = CacheClock(app)
    anonymous = app.test_client()
    assert anonymous.get("/api/petitions?sort=newest").get_json()["meta"]["total"] == 1
    assert anonymous.get("/api/petitions?q=library").get_json()["meta"]["total"] == 0
    newer = make_open(app, owner, "Save the local library from closure")
    seen = len(flask_calls)
    assert anonymous.get("/api/petitions?sort=newest").get_json()["meta"]["total"] == 1  # still fresh
    assert anonymous.get("/api/petitions?q=library").get_json()["meta"]["total"] == 0
    assert len(flask_calls) == seen
    assert anonymous.get("/api/petitions").get_json()["meta"]["total"] == 2  # not asked before: Flask
    clock.pass_fresh_window()
    newest = anonymous.get("/api/petitions?sort=newest").get_json()
    assert [item["id"] for item in newest["data"]] == [newer, opened]
    assert anonymous.get("/api/petitions?q=library").get_json()["data"][0]["id"] == newer


def test_absolute_urls_are_kept_per_scheme_and_host(app, opened, flask_calls):
    for _ in range(2):
        ours = app.test_client().get("/api/petitions", base_url="https://petitions.example").get_json()
        other = app.test_client().get("/api/petitions", base_url="http://other.example").get_json()
        assert ours["data"][0]["url"] == f"https://petitions.example/petitions/{opened}"
        assert other["data"][0]["url"] == f"http://other.example/petitions/{opened}"
    assert len(flask_calls) == 2


@pytest.mark.parametrize("query", ["?sort=bogus", "?page=0", "?state=draft", "?page=%FF"])
def test_a_bad_query_gets_flasks_json_400_every_time(app, opened, flask_calls, query):
    for attempt in range(2):
        response = app.test_client().get("/api/petitions" + query)
        assert response.status_code == 400 and "error" in response.get_json()
        assert len(flask_calls) == attempt + 1


def test_a_cookie_or_a_head_reaches_flask(app, opened, flask_calls):
    app.test_client().get("/api/petitions")
    for method, headers in (("GET", {"Cookie": "theme=dark"}), ("HEAD", {})):
        before = len(flask_calls)
        response = app.test_client(use_cookies=False).open("/api/petitions", method=method, headers=headers)
        assert response.status_code == 200 and len(flask_calls) == before + 1


def test_made_up_hosts_get_flasks_answer_but_are_not_kept_without_bound(app, opened, flask_calls):
    hosts = [f"https://host{n}.example" for n in range(MAX_ORIGINS + 5)]
    for host in hosts:
        listing = app.test_client().get("/api/petitions", base_url=host).get_json()
        assert listing["data"][0]["url"] == f"{host}/petitions/{opened}"
    entry = app.extensions["page_cache"]._entries[PLAIN_LIST_KEYS["/api/petitions"]]
    assert len(entry.responses) == MAX_ORIGINS
    assert len(flask_calls) == len(hosts)
    app.test_client().get("/api/petitions", base_url=hosts[0])  # kept: answered without Flask
    app.test_client().get("/api/petitions", base_url=hosts[-1])  # not kept: Flask answers again
    assert len(flask_calls) == len(hosts) + 1
