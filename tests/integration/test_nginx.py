"""nginx started for real with deploy/nginx.conf.template (deploy/stack.py): what it caches, what
it never caches, what it serves itself, and what it answers when the app is gone.

Two stacks: nginx in front of a stand-in app server that counts the requests reaching it
(nginx_upstream.py), to see exactly what nginx answered itself; and nginx in front of the real
app (production config, gunicorn) on the test databases."""
import gzip
import os
import re
import time
import urllib.error
import urllib.request

import pytest

from deploy.stack import ROOT, running
from tests.helpers import TOKEN_RE, DEFAULT_PASSWORD
from tests.integration.support import make_open, make_user
from tests.reliability.procs import app_env

PORTS = tuple(int(p) for p in os.environ.get("STACK_TEST_PORTS", "5260-5299").split("-"))
STACK_PORTS = (PORTS[0], PORTS[1] + 1)
SIGN_TOKEN_RE = re.compile(r'data-sign-token="([^"]+)"')


def get(url, headers=None, method="GET", data=None):
    """(status, headers, body) without raising on 4xx/5xx and without following redirects."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# -- nginx alone, in front of a counting stand-in ------------------------------------------------
@pytest.fixture(scope="module")
def counting():
    env = {"WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CLASS": "sync"}
    with running(env, ports=STACK_PORTS, target="tests.integration.nginx_upstream:app") as stack:
        yield stack


def served(body):
    """The stand-in's request number in an answer."""
    return int(body.decode().split("#")[1].split()[0])


def test_an_anonymous_read_is_cached_for_about_a_second(counting):
    """proxy_cache_valid 1s in nginx's whole-second clock: an entry is fresh for 1 to 2 s."""
    first = get(f"{counting.url}/api/petitions/1/count")
    again = get(f"{counting.url}/api/petitions/1/count")
    assert first[1]["X-Cache-Status"] == "MISS" and again[1]["X-Cache-Status"] == "HIT"
    assert again[2] == first[2]  # the app was asked once
    time.sleep(2.1)
    refreshed = get(f"{counting.url}/api/petitions/1/count")  # stale while updating, then new
    time.sleep(0.2)
    latest = get(f"{counting.url}/api/petitions/1/count")
    assert refreshed[1]["X-Cache-Status"] in ("STALE", "UPDATING", "EXPIRED")
    assert served(latest[2]) > served(first[2])


def test_an_embed_is_cached_like_its_petition_page(counting):
    first, again = get(f"{counting.url}/petitions/4/embed"), get(f"{counting.url}/petitions/4/embed")
    assert first[1]["X-Cache-Status"] == "MISS" and again[1]["X-Cache-Status"] == "HIT" and again[2] == first[2]


@pytest.mark.parametrize("path", ["/api/petitions/5/history", "/api/petitions/5/history.csv",
                                  "/api/exports/daily/2026-03-01.json", "/api/exports/daily/2026-03-01.csv"])
def test_history_and_exports_are_cached_for_the_apps_max_age_and_only_then(counting, path):
    cached = get(f"{counting.url}{path}?max-age=60")
    again = get(f"{counting.url}{path}?max-age=60")
    assert cached[1]["X-Cache-Status"] == "MISS" and again[1]["X-Cache-Status"] == "HIT" and again[2] == cached[2]
    time.sleep(2.1)  # longer than the pages' second: the app's minute is what counts here
    assert get(f"{counting.url}{path}?max-age=60")[1]["X-Cache-Status"] == "HIT"
    # No Cache-Control (as on an error): asked again each time.
    first, second = get(counting.url + path), get(counting.url + path)
    assert served(second[2]) > served(first[2])


def test_each_query_string_is_its_own_entry(counting):
    plain = get(f"{counting.url}/")
    assert get(f"{counting.url}/")[1]["X-Cache-Status"] == "HIT"
    newest = get(f"{counting.url}/?sort=newest")
    assert newest[1]["X-Cache-Status"] == "MISS" and newest[2] != plain[2]
    assert get(f"{counting.url}/?sort=newest")[2] == newest[2]


@pytest.mark.parametrize("personal", [{"Cookie": "session=abc"}, {"Cookie": "theme=dark; remember_token=1|x"},
                                      {"Authorization": "Bearer t"}])
def test_a_request_with_a_session_is_never_answered_from_the_cache_nor_stored(counting, personal):
    path = f"{counting.url}/petitions/7"
    cached = get(path)[2]
    assert get(path)[1]["X-Cache-Status"] == "HIT"
    mine = get(path, headers=personal)
    assert mine[1]["X-Cache-Status"] == "BYPASS" and served(mine[2]) > served(cached)
    after = get(path)
    assert after[1]["X-Cache-Status"] == "HIT" and after[2] == cached  # the personal answer was not kept


def test_other_cookies_alone_still_share_the_cache(counting):
    get(f"{counting.url}/petitions/8")
    assert get(f"{counting.url}/petitions/8", headers={"Cookie": "theme=dark"})[1]["X-Cache-Status"] == "HIT"


def test_an_answer_that_sets_a_cookie_is_never_cached(counting):
    path = f"{counting.url}/?set-cookie"
    first, second = get(path), get(path)
    assert "session=fresh" in first[1]["Set-Cookie"] and "session=fresh" in second[1]["Set-Cookie"]
    assert served(second[2]) > served(first[2])
    assert second[1]["X-Cache-Status"] != "HIT"


@pytest.mark.parametrize("path", ["/auth/login", "/petitions/new", "/api/petitions/3/signatures",
                                  "/api/petitions/3/report", "/petitions/3/report.csv"])
def test_nothing_else_is_cached(counting, path):
    first, second = get(counting.url + path), get(counting.url + path)
    assert served(second[2]) > served(first[2])
    assert "X-Cache-Status" not in second[1]


def test_static_files_are_served_by_nginx_with_a_year_of_caching(counting):
    before = served(get(f"{counting.url}/auth/login")[2])
    status, headers, body = get(f"{counting.url}/static/style.css?v=anything", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"] == "text/css"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (ROOT / "app" / "static" / "style.css").read_bytes()
    assert get(f"{counting.url}/static/missing.js")[0] == 404
    assert served(get(f"{counting.url}/auth/login")[2]) == before + 1  # none of it reached the app


def test_bodies_over_the_limits_are_refused_by_nginx_with_json_on_the_api(counting):
    status, headers, body = get(f"{counting.url}/api/petitions/3/signatures", method="POST", data=b"x" * 5000)
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert b'"code": "too_large"' in body
    assert get(f"{counting.url}/auth/login", method="POST", data=b"x" * (1024 * 1024 + 1))[0] == 413


def test_without_the_app_server_cached_pages_are_served_stale_and_the_rest_is_a_clear_503(counting):
    cached = get(f"{counting.url}/petitions/9")
    time.sleep(2.1)  # past its freshness
    gunicorn = counting.processes["gunicorn-0"]
    gunicorn.terminate()
    gunicorn.wait(15)
    stale = get(f"{counting.url}/petitions/9")
    assert stale[0] == 200 and stale[2] == cached[2] and stale[1]["X-Cache-Status"] == "STALE"
    status, headers, body = get(f"{counting.url}/auth/login")
    assert status == 503 and headers["Retry-After"] == "5" and b"may not have been recorded. It is safe to try again" in body


# -- nginx in front of the real app --------------------------------------------------------------
@pytest.fixture(scope="module")
def site(migrated_databases):
    env = app_env(migrated_databases.REDIS_URL, WEB_CONCURRENCY="2", FORCE_HTTPS="false",
                  SESSION_COOKIE_SECURE="false", LOGIN_RATE_LIMIT_IP="1000 per minute",
                  LOGIN_RATE_LIMIT_ACCOUNT="1000 per minute")
    with running(env, ports=STACK_PORTS) as stack:
        yield stack


def login_over_http(site, email):
    """The session cookie a browser holds after logging in through nginx."""
    status, headers, body = get(f"{site.url}/auth/login")
    cookie = headers["Set-Cookie"].split(";")[0]
    token = TOKEN_RE.search(body.decode()).group(1)
    form = f"email={email}&password={DEFAULT_PASSWORD.replace(' ', '+')}&csrf_token={token}".encode()
    status, headers, _ = get(f"{site.url}/auth/login", method="POST", data=form,
                             headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 302, status
    return headers["Set-Cookie"].split(";")[0]


def test_the_site_through_nginx_caches_anonymous_pages_and_never_a_signed_in_one(app, site):
    owner = make_user(app, "owner@example.com", "Olive Owner")
    make_user(app, "sam@example.com", "Sam Signer")
    petition_id = make_open(app, owner, title="Keep the night buses running")
    page = f"{site.url}/petitions/{petition_id}"
    anonymous = get(page)
    assert anonymous[0] == 200 and get(page)[1]["X-Cache-Status"] == "HIT"
    assert b"Log in to sign" in anonymous[2]

    cookie = login_over_http(site, "sam@example.com")
    mine = get(page, headers={"Cookie": cookie})
    assert mine[1]["X-Cache-Status"] == "BYPASS"
    assert b"Sign out (Sam Signer)" in mine[2] and b"data-sign-token" in mine[2]
    assert b"Sign out" not in get(page)[2]

    front = get(f"{site.url}/")
    assert front[0] == 200 and b"Keep the night buses running" in front[2]
    assert b"/static/style.css?v=" in front[2]  # versioned, so a year of caching is safe


def test_a_signature_through_nginx_reaches_the_signing_endpoint_uncached(app, site):
    owner = make_user(app, "owner@example.com", "Olive Owner")
    make_user(app, "sam@example.com", "Sam Signer")
    petition_id = make_open(app, owner)
    cookie = login_over_http(site, "sam@example.com")
    token = SIGN_TOKEN_RE.search(get(f"{site.url}/petitions/{petition_id}", headers={"Cookie": cookie})[2].decode()).group(1)
    url = f"{site.url}/api/petitions/{petition_id}/signatures"
    first = get(url, method="POST", headers={"Authorization": f"Bearer {token}"}, data=b"")
    again = get(url, method="POST", headers={"Authorization": f"Bearer {token}"}, data=b"")
    assert (first[0], again[0]) == (201, 200)
    assert b'"signature_count":1' in again[2] and "X-Cache-Status" not in again[1]
