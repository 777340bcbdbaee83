"""Security test 5: security headers on every page (walked from the URL map), error pages and
redirects included; HSTS and HTTPS-only in production."""
import re

import pytest

from tests.helpers import create_draft, csrf_token, launch, register

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


# The one view made to be framed by other sites (its "not found" too, so a frame shows a page).
EMBED = re.compile(r"^/petitions/\d+/embed$")


def _assert_headers(response, where):
    csp = response.headers.get("Content-Security-Policy", "")
    embed = bool(EMBED.match(where))
    if where.startswith("/api/"):
        # JSON loads nothing: the API allows nothing at all, errors included.
        assert csp == "default-src 'none'; frame-ancestors 'none'", where
    else:
        directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
        assert directives.get("frame-ancestors") == ("frame-ancestors *" if embed else "frame-ancestors 'none'"), where
        assert directives.get("base-uri") == "base-uri 'none'", where
        assert directives.get("default-src") == "default-src 'self'", where
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    for name, value in EXPECTED.items():
        expected = None if embed and name == "X-Frame-Options" else value
        assert response.headers.get(name) == expected, (where, name)


def _every_get_url(app, values):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        assert set(rule.arguments) <= set(values), f"{rule.rule}: teach this test a value"
        yield rule.build({k: values[k] for k in rule.arguments})[1]


def _pages(app, client):
    register(client, "owner@example.com", "Olive Owner")
    draft_id = create_draft(client, title="A draft for the header test")
    open_id = create_draft(client, title="An open petition for the header test")
    launch(client, open_id)
    values = {"petition_id": open_id, "filename": "style.css", "token": "not-a-real-link", "day": "2026-12-01"}
    urls = list(_every_get_url(app, values))
    urls += [f"/petitions/{draft_id}", f"/petitions/{draft_id}/edit", "/?state=closed", "/no-such-page",
             "/api/petitions?page=0", "/api/petitions/999999", "/api/no-such-thing", "/petitions/999999"]
    return urls


def test_headers_on_every_page_signed_in_and_anonymous(app, client):
    urls = _pages(app, client)
    anonymous = app.test_client()
    for browser in (client, anonymous):
        for url in urls:
            _assert_headers(browser.get(url), url)
    token = csrf_token(client, "/")
    _assert_headers(client.post("/auth/logout", data={"csrf_token": token}), "POST /auth/logout")
    _assert_headers(anonymous.post("/auth/login", data={}), "POST /auth/login without token")


def test_production_adds_hsts_and_sends_http_to_https(production_app, https_client):
    for url in ("/", "/auth/login", "/api/petitions", "/no-such-page"):
        response = https_client.get(url)
        _assert_headers(response, url)
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts and "includeSubDomains" in hsts, url
    plain = production_app.test_client().get("/auth/login")
    assert plain.status_code in (301, 302)
    assert plain.headers["Location"].startswith("https://")


def test_each_app_keeps_its_own_settings(app, production_app):
    """Talisman keeps its settings on itself: with one shared instance, the app built last would
    decide HTTPS and HSTS for every app in the process."""
    assert production_app.test_client().get("/auth/login").status_code in (301, 302)
    response = app.test_client().get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200 and "Strict-Transport-Security" not in response.headers
    assert app.test_client().get("/auth/login").status_code == 200


@pytest.mark.parametrize("path", ["/", "/auth/login"])
def test_no_hsts_outside_production(client, path):
    """HSTS pins browsers to HTTPS for a year: only production, which always has TLS, sends it."""
    assert "Strict-Transport-Security" not in client.get(path).headers
