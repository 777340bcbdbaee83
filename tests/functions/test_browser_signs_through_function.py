"""A real browser signs through the signing function: the web app (functions mode) and the sign
function each serve HTTP on 127.0.0.1, and Debian's chromium runs the page's own sign.js under
the site's real CSP and CORS."""
import re
import threading

import azure.functions as func
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.domain.petitions import utcnow
from tests.helpers import confirmation_path, functions_mode_config

WEB_PORT, FUNCTIONS_PORT = 5320, 5321
SITE = f"http://127.0.0.1:{WEB_PORT}"

pytestmark = pytest.mark.e2e


def function_host(sign_petition):
    """Stands in for the Functions host's HTTP layer: werkzeug request -> func.HttpRequest ->
    the registered function -> HTTP response."""

    @Request.application
    def wsgi(request):
        match = re.fullmatch(r"/api/petitions/([^/]+)/signatures", request.path)
        if match is None or request.args.get("code") != "sign-key":
            return Response(status=404 if match is None else 401)
        response = sign_petition(
            func.HttpRequest(
                method=request.method,
                url=request.url,
                headers=dict(request.headers),
                params=dict(request.args),
                route_params={"petition_id": match.group(1)},
                body=request.get_data(),
            )
        )
        return Response(response.get_body(), status=response.status_code,
                        headers=dict(response.headers), mimetype=response.mimetype)

    return wsgi


def serve(app, port):
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def config(migrated_databases):
    return functions_mode_config(FUNCTIONS_PORT)


@pytest.fixture
def servers(app, fn_clients, http_handles, monkeypatch):
    monkeypatch.setattr(fn_clients, "clock", utcnow)  # the web app mints tokens with the wall clock
    fn_clients.config().SITE_ORIGIN = SITE
    web, functions = serve(app, WEB_PORT), serve(function_host(http_handles["sign_petition"]), FUNCTIONS_PORT)
    yield
    web.shutdown()
    functions.shutdown()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        yield page
        browser.close()


def test_the_sign_button_signs_through_the_function(app, servers, page, redis_client):
    problems = []  # CSP and CORS refusals show up as console errors
    page.on("console", lambda m: problems.append(m.text) if re.search("Content Security Policy|CORS", m.text) else None)
    web_sign_posts = []
    page.on("request", lambda r: web_sign_posts.append(r.url) if r.url.startswith(SITE) and r.url.endswith("/sign") else None)

    page.goto(f"{SITE}/auth/register")
    page.fill("#email", "ann@example.com")
    page.fill("#display_name", "Ann Example")
    page.fill("#password", "correct horse battery")
    page.click("button:has-text('Create account')")
    page.goto(SITE + confirmation_path(app, "ann@example.com"))  # the link in the mail
    page.goto(f"{SITE}/petitions/new")
    page.fill("#title", "Open the swimming pool on Sunday mornings")
    page.fill("#body", "Families want to swim together at weekends.")
    page.fill("#duration_days", "30")
    page.click("button:has-text('Save draft')")
    page.click("button:has-text('Launch petition')")
    petition_id = int(re.search(r"/petitions/(\d+)", page.url).group(1))
    page.goto(f"{SITE}/petitions/{petition_id}")

    page.click("button:has-text('Sign this petition')")
    page.wait_for_selector("text=Thank you for signing.")

    assert page.inner_text("#signature-count") == "1"
    assert web_sign_posts == []  # the web app was not on the signing path
    assert redis_client.smembers(f"petition:{petition_id}:signers") == {b"1"}
    assert problems == []  # no CSP or CORS refusals
